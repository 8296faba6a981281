import type { Knex } from 'knex';

/**
 * Limits every replica counts against (src/core/cluster): the socket slots behind per-resource
 * socket caps, and the token buckets behind shared message rates.
 */
export async function up(knex: Knex): Promise<void> {
  // One row per cap a socket counts against (a VNC viewer counts against its session's and its
  // user's). A replica's rows go with its registry row: deleted when it stops, or when the
  // others give it up after it stopped heart-beating.
  await knex.schema.createTable('socket_slots', (t) => {
    t.uuid('slot_id').notNullable();
    t.text('key').notNullable();
    t.text('replica_id').notNullable().references('id').inTable('replicas').onDelete('CASCADE');
    t.timestamp('acquired_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['slot_id', 'key']);
    t.index(['key']);
    t.index(['replica_id']);
  });
  await knex.schema.createTable('token_buckets', (t) => {
    t.text('key').primary();
    /** Tokens left at `updated_at`; the refill since then is worked out from the database clock. */
    t.double('tokens').notNullable();
    /** What the last take was granted, so the upsert can return it. */
    t.integer('granted').notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().index();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('token_buckets');
  await knex.schema.dropTable('socket_slots');
}
