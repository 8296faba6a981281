import type { Knex } from 'knex';

/**
 * The key of the session advisory lock each replica holds while it runs (src/core/cluster):
 * a replica that dies loses its database session, and with it the lock, at once, so the others
 * see it gone without waiting for its heartbeat to go stale. Null: a replica without one
 * (the embedded database, where only one process runs).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('replicas', (t) => {
    t.integer('lock_key');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('replicas', (t) => {
    t.dropColumn('lock_key');
  });
}
