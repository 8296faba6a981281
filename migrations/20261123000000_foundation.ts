import type { Knex } from 'knex';

/** Secrets generated at first start, the rate-limit counters, and the scheduler's run ledger. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('app_secrets', (t) => {
    t.text('name').primary();
    t.text('value').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.schema.createTable('rate_limit_buckets', (t) => {
    t.text('key').primary();
    t.timestamp('window_start', { useTz: true }).notNullable();
    t.integer('hits').notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable().index();
  });
  await knex.schema.createTable('job_runs', (t) => {
    t.text('job_id').notNullable();
    t.timestamp('slot', { useTz: true }).notNullable();
    t.text('claimed_by').notNullable();
    t.timestamp('started_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('finished_at', { useTz: true });
    t.text('outcome');
    t.integer('duration_ms');
    t.text('error');
    t.primary(['job_id', 'slot']);
    t.index(['started_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('job_runs');
  await knex.schema.dropTable('rate_limit_buckets');
  await knex.schema.dropTable('app_secrets');
}
