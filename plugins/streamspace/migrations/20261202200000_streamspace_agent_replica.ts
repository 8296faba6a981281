import type { Knex } from 'knex';

/**
 * Which replica holds an agent's socket, beside the connection id: a viewer or a command that
 * lands on another replica is relayed there (src/plugin-api/cluster.ts).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('streamspace_agents', (t) => {
    t.text('replica_id');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('streamspace_agents', (t) => {
    t.dropColumn('replica_id');
  });
}
