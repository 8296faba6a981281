import type { Knex } from 'knex';

/**
 * Dev containers' vmids, single-use IDE tokens and IDE sessions. Tokens and session ids are
 * stored as SHA-256 hashes only; everything goes with its container.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('dev_containers', (t) => {
    t.uuid('instance_id').primary().references('instances.id').onDelete('CASCADE');
    t.integer('vmid').notNullable().unique();
  });
  await knex.schema.createTable('dev_ide_tokens', (t) => {
    t.text('token_hash').primary();
    t.uuid('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.uuid('instance_id').notNullable().references('instances.id').onDelete('CASCADE');
    t.integer('vmid').notNullable();
    // The host the token may be spent on (hosted `dev-<vmid>.<suffix>` or the path-mode host) and the mode.
    t.text('host').notNullable();
    t.text('mode').notNullable();
    // The sign-in it came from: the IDE session ends with it.
    t.text('role').notNullable();
    t.text('token_id').notNullable();
    t.text('family_id').notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable().index();
    t.timestamp('used_at', { useTz: true });
  });
  await knex.schema.createTable('dev_ide_sessions', (t) => {
    t.text('id_hash').primary();
    t.uuid('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.uuid('instance_id').notNullable().references('instances.id').onDelete('CASCADE').index();
    t.integer('vmid').notNullable();
    t.text('mode').notNullable();
    t.text('role').notNullable();
    t.text('token_id').notNullable();
    t.text('family_id').notNullable().index();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable().index();
    t.timestamp('revoked_at', { useTz: true });
    t.index(['user_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('dev_ide_sessions');
  await knex.schema.dropTable('dev_ide_tokens');
  await knex.schema.dropTable('dev_containers');
}
