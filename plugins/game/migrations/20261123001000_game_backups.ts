import type { Knex } from 'knex';

/**
 * The game plugin's own backup records (the agent keeps the archives) and the restores in
 * flight. Both go with their server: deleting the instance row removes them, locked or not.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('game_backups', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('server_id').notNullable().references('instances.id').onDelete('CASCADE');
    // Null while the agent has not yet accepted it (a reservation against the backup limit).
    t.text('agent_backup_id');
    t.text('name').notNullable();
    t.text('state').notNullable();
    t.boolean('locked').notNullable().defaultTo(false);
    t.bigInteger('size_bytes');
    t.text('sha256');
    t.text('error');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('completed_at', { useTz: true });
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['server_id', 'agent_backup_id']);
    t.index(['server_id', 'created_at']);
    t.index(['state']);
  });
  await knex.raw(`ALTER TABLE game_backups ADD CONSTRAINT game_backups_state_check CHECK (state IN ('in_progress', 'completed', 'failed'))`);
  await knex.schema.createTable('game_restores', (t) => {
    t.uuid('server_id').primary().references('instances.id').onDelete('CASCADE');
    t.uuid('backup_id').notNullable().references('game_backups.id').onDelete('CASCADE');
    t.text('agent_backup_id').notNullable();
    t.timestamp('started_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    // Set once the agent answered 202; until then a crash may have lost the request.
    t.timestamp('accepted_at', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('game_restores');
  await knex.schema.dropTable('game_backups');
}
