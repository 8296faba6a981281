import type { Knex } from 'knex';

/** Billing accounts (one per user), the Stripe webhook events received (each recorded with its effects), and reminders sent. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('billing_accounts', (t) => {
    t.uuid('user_id').primary().references('users.id').onDelete('CASCADE');
    t.text('stripe_customer_id').unique();
    t.text('subscription_id').unique();
    // The plan the user has now; null: the default plan.
    t.text('plan');
    t.text('status').notNullable().defaultTo('none');
    t.timestamp('current_period_end', { useTz: true });
    t.boolean('cancel_at_period_end').notNullable().defaultTo(false);
    t.text('pending_plan');
    t.boolean('exempt').notNullable().defaultTo(false);
    // Since when the subscription has been past due: creating and starting instances stop after the grace.
    t.timestamp('past_due_since', { useTz: true });
    // When the stored subscription state was read from Stripe: an older read never overwrites a newer one.
    t.timestamp('last_synced_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['status']);
  });
  await knex.raw(`ALTER TABLE billing_accounts ADD CONSTRAINT billing_accounts_status_check CHECK (status IN ('none', 'trialing', 'active', 'past_due', 'canceled', 'incomplete'))`);
  await knex.schema.createTable('billing_events', (t) => {
    t.text('id').primary();
    t.text('type').notNullable();
    t.uuid('user_id').references('users.id').onDelete('SET NULL');
    t.timestamp('stripe_created_at', { useTz: true }).notNullable();
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('outcome').notNullable();
    t.text('detail');
    t.index(['user_id', 'received_at']);
  });
  // One row per reminder ever sent: the key (subscription, kind, period) makes a second send impossible.
  await knex.schema.createTable('billing_reminders', (t) => {
    t.bigIncrements('id');
    t.uuid('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.text('subscription_id').notNullable();
    t.text('kind').notNullable();
    t.text('period_key').notNullable();
    t.timestamp('sent_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['subscription_id', 'kind', 'period_key']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('billing_reminders');
  await knex.schema.dropTable('billing_events');
  await knex.schema.dropTable('billing_accounts');
}
