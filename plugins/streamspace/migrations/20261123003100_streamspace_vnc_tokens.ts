import type { Knex } from 'knex';

/**
 * Single-use VNC tokens bound to the login they were minted from (so logout ends them), and
 * a ledger of the templates seeded from config (so one an admin deleted does not come back).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('streamspace_vnc_tokens', (t) => {
    t.text('token_hash').primary();
    t.uuid('session_id').notNullable().references('streamspace_sessions.id').onDelete('CASCADE');
    t.uuid('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.text('role').notNullable();
    t.text('token_id').notNullable();
    t.text('family_id').notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable().index();
    t.timestamp('used_at', { useTz: true });
  });
  await knex.schema.createTable('streamspace_template_seeds', (t) => {
    t.text('name').primary();
    t.timestamp('seeded_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  // Templates already there came from the seed or an admin; either way they are not seeded again.
  await knex.raw('INSERT INTO streamspace_template_seeds (name) SELECT name FROM streamspace_templates ON CONFLICT DO NOTHING');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('streamspace_template_seeds');
  await knex.schema.dropTable('streamspace_vnc_tokens');
}
