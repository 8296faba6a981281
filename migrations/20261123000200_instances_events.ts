import type { Knex } from 'knex';

/** Instances and their agents, the static agent pool, single-use tickets, the event log and live replicas. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('tickets', (t) => {
    t.text('ticket_hash').primary();
    t.text('purpose').notNullable();
    t.uuid('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.text('resource_id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable().index();
    t.timestamp('used_at', { useTz: true });
  });
  await knex.schema.createTable('instances', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    // RESTRICT: deleting a user must not orphan running agents; their instances go first.
    t.uuid('owner_id').notNullable().references('users.id').onDelete('RESTRICT').index();
    t.text('kind').notNullable();
    t.text('plugin').notNullable();
    t.text('name').notNullable();
    t.text('lifecycle').notNullable().defaultTo('provisioning');
    t.text('lifecycle_reason');
    t.text('provisioner').notNullable();
    t.jsonb('allocation').notNullable().defaultTo('{}');
    t.text('agent_base_url');
    t.text('agent_token_encrypted');
    t.jsonb('spec').notNullable().defaultTo('{}');
    t.jsonb('state').notNullable().defaultTo('{}');
    t.timestamp('provision_deadline', { useTz: true });
    // Which replica drives provisioning or deletion, until when; a dead replica's lease runs out.
    t.text('worker_id');
    t.timestamp('worker_lease_until', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['plugin', 'kind']);
    t.index(['lifecycle']);
  });
  await knex.raw(`ALTER TABLE instances ADD CONSTRAINT instances_lifecycle_check CHECK (lifecycle IN ('provisioning', 'active', 'failed', 'suspended', 'restoring_backup', 'deleting'))`);
  await knex.schema.createTable('agent_pool', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('name').notNullable();
    t.text('base_url').notNullable().unique();
    t.text('token_encrypted').notNullable();
    t.text('kind').notNullable().defaultTo('any');
    t.uuid('instance_id').unique().references('instances.id').onDelete('SET NULL');
    // A released agent still holds its last tenant's data: it is handed out again only after an admin wipes it.
    t.boolean('needs_wipe').notNullable().defaultTo(false);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.schema.createTable('events', (t) => {
    t.bigIncrements('id');
    t.text('type').notNullable();
    t.uuid('user_id').index();
    t.jsonb('data').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now()).index();
  });
  await knex.schema.createTable('replicas', (t) => {
    t.text('id').primary();
    t.timestamp('started_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('heartbeat_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['replicas', 'events', 'agent_pool', 'instances', 'tickets']) await knex.schema.dropTable(table);
}
