import type { Knex } from 'knex';

/**
 * The admin and plugin lists page by (created_at DESC, id): with this index a page reads its
 * rows, not the whole table sorted. The poller rewrites every polled row's `state` once per
 * interval (about 1,000 rows a second at 10,000 agents); half-empty pages let those updates
 * stay on their page (HOT, no index entries), and the page prunes its old versions itself when
 * it is next read, so the table stays near its live size even where autovacuum lags or is off.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE INDEX instances_created_at_id_index ON instances (created_at DESC, id)');
  await knex.raw('ALTER TABLE instances SET (fillfactor = 50)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE instances RESET (fillfactor)');
  await knex.raw('DROP INDEX instances_created_at_id_index');
}
