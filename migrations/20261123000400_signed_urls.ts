import type { Knex } from 'knex';

/** Uses of signed file URLs, by the token's nonce: a download may be resumed a few times, an upload happens once. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('signed_url_uses', (t) => {
    t.text('nonce').primary();
    t.integer('uses').notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable().index();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('signed_url_uses');
}
