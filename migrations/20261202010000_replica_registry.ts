import type { Knex } from 'knex';

/** The replica registry (src/core/cluster): where the other replicas reach each one. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('replicas', (t) => {
    t.text('internal_url');
    t.index(['heartbeat_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('replicas', (t) => {
    t.dropIndex(['heartbeat_at']);
    t.dropColumn('internal_url');
  });
}
