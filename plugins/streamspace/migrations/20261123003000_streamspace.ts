import type { Knex } from 'knex';

/**
 * StreamSpace: templates, agents and their keys (hashed), sessions and the durable command
 * log. Agent status is derived from `connected` and `draining`, so a drain set by an admin
 * survives heartbeats and reconnects.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('streamspace_templates', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('name').notNullable().unique();
    t.text('display_name').notNullable();
    t.text('category').notNullable();
    t.text('description').notNullable().defaultTo('');
    t.text('base_image').notNullable();
    t.jsonb('default_resources').notNullable();
    t.jsonb('vnc').notNullable();
    t.jsonb('environment').notNullable();
    t.boolean('persistent_home').notNullable().defaultTo(true);
    t.text('idle_timeout').notNullable();
    t.jsonb('tags').notNullable();
    t.text('icon_url');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw('CREATE INDEX streamspace_templates_category ON streamspace_templates (category, name)');

  await knex.schema.createTable('streamspace_agent_keys', (t) => {
    t.text('agent_id').primary();
    t.text('key_hash').notNullable();
    t.uuid('created_by').references('users.id').onDelete('SET NULL');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('streamspace_agents', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('agent_id').notNullable().unique();
    t.text('platform').notNullable();
    t.text('region');
    t.boolean('connected').notNullable().defaultTo(false);
    t.boolean('draining').notNullable().defaultTo(false);
    t.jsonb('capacity').notNullable();
    t.jsonb('metadata').notNullable();
    // The connection that currently speaks for the agent: messages and closes of older ones are ignored.
    t.text('websocket_conn_id');
    t.timestamp('connected_at', { useTz: true });
    t.timestamp('last_heartbeat', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('streamspace_sessions', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('name').notNullable();
    t.text('namespace').notNullable();
    t.uuid('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.text('template').notNullable();
    t.text('platform').notNullable();
    t.text('region');
    t.text('agent_id').notNullable();
    t.text('state').notNullable();
    t.jsonb('resources').notNullable();
    t.boolean('persistent_home').notNullable();
    t.text('idle_timeout').notNullable();
    t.integer('idle_timeout_s').notNullable();
    t.jsonb('tags').notNullable();
    t.jsonb('status').notNullable();
    t.jsonb('platform_metadata').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_activity', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(`ALTER TABLE streamspace_sessions ADD CONSTRAINT streamspace_sessions_state_check
    CHECK (state IN ('pending','running','hibernating','hibernated','waking','terminating','terminated','failed'))`);
  // A name is taken while its session lives; terminated and failed sessions free it.
  await knex.raw(`CREATE UNIQUE INDEX streamspace_sessions_live_name ON streamspace_sessions (name) WHERE state NOT IN ('terminated','failed')`);
  await knex.raw('CREATE INDEX streamspace_sessions_user ON streamspace_sessions (user_id, created_at)');
  await knex.raw('CREATE INDEX streamspace_sessions_agent_state ON streamspace_sessions (agent_id, state)');

  await knex.schema.createTable('streamspace_commands', (t) => {
    t.text('command_id').primary();
    t.text('agent_id').notNullable();
    t.uuid('session_id').references('streamspace_sessions.id').onDelete('CASCADE');
    t.text('command_type').notNullable();
    t.jsonb('data').notNullable();
    t.text('status').notNullable().defaultTo('pending');
    t.integer('attempts').notNullable().defaultTo(0);
    t.jsonb('result');
    t.text('error');
    t.text('error_code');
    t.text('sent_conn_id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('sent_at', { useTz: true });
    t.timestamp('acknowledged_at', { useTz: true });
    t.timestamp('completed_at', { useTz: true });
  });
  await knex.raw(`ALTER TABLE streamspace_commands ADD CONSTRAINT streamspace_commands_status_check
    CHECK (status IN ('pending','sent','acknowledged','completed','failed','timed_out'))`);
  await knex.raw(`CREATE INDEX streamspace_commands_open ON streamspace_commands (agent_id, created_at) WHERE status IN ('pending','sent','acknowledged')`);
  await knex.raw('CREATE INDEX streamspace_commands_session ON streamspace_commands (session_id, created_at)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('streamspace_commands');
  await knex.schema.dropTable('streamspace_sessions');
  await knex.schema.dropTable('streamspace_agents');
  await knex.schema.dropTable('streamspace_agent_keys');
  await knex.schema.dropTable('streamspace_templates');
}
