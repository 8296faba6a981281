import type { Knex } from 'knex';

/**
 * A template's `local` section: how a local desktop agent runs it on its own machine (a
 * command and the Debian packages it needs), next to the base_image container agents use.
 * Null: the template is for container agents only.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('streamspace_templates', (t) => {
    t.jsonb('local');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('streamspace_templates', (t) => {
    t.dropColumn('local');
  });
}
