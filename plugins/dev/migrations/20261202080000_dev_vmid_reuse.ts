import type { Knex } from 'knex';

/**
 * Which vmids were ever handed out, so a container that gets a used one (the range was full
 * and fell back to a gap) knows its IDE origin `dev-<vmid>` may hold the previous tenant's
 * service workers and storage in users' browsers: its first IDE answer clears them.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('dev_vmids_used', (t) => {
    t.integer('vmid').primary();
    t.timestamp('first_used_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw('INSERT INTO dev_vmids_used (vmid) SELECT vmid FROM dev_containers ON CONFLICT DO NOTHING');
  await knex.schema.alterTable('dev_containers', (t) => {
    t.boolean('clear_site_data').notNullable().defaultTo(false);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('dev_containers', (t) => {
    t.dropColumn('clear_site_data');
  });
  await knex.schema.dropTable('dev_vmids_used');
}
