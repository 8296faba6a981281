import test from 'ava';
import type { Knex } from 'knex';
import { loadConfig } from '../../../src/config/load.ts';
import { Plans } from '../../../src/core/billing/plans.ts';
import { checkInvariants, formatInvariantReport } from '../../../src/core/invariants/check-invariants.ts';
import { panelInvariants } from '../../../src/core/invariants/panel-invariants.ts';
import { preparePlugins } from '../../../src/core/plugin-host/plugin-host.ts';
import { shippedPlugins } from '../../../plugins/index.ts';
import { defineInvariant } from '../../../src/core/invariants/invariant.ts';
import type { PanelPlugin } from '../../../src/core/plugin-host/plugin.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-database.ts';
import { ago, emptyTables, plantInstance, plantUser } from './plant.ts';

/**
 * Each invariant of the checker (`npm run check-invariants`) finds a row planted to break it,
 * by id, and only that invariant fails; a database of valid rows passes every one. In process,
 * on the suite's engine; one database, emptied before each test, so plants do not meet.
 */
const config = loadConfig({ env: {} });
const invariants = panelInvariants(new Plans(config.billing.plans, config.billing.default_plan), preparePlugins(shippedPlugins, config.plugins.enabled, config.plugins.config));
const minute = 60_000;
let database: TestDatabase | null = null;

/** The file's database, emptied: the tests run one after another on it. */
async function fresh(): Promise<Knex> {
  database ??= await createTestDatabase();
  await emptyTables(database.database.knex);
  return database.database.knex;
}
test.after.always(async () => {
  await database?.drop();
});

/** Runs the checker; asserts `id` alone fails, naming exactly `offending`. */
async function expectOnly(t: import('ava').ExecutionContext, db: Knex, id: string, offending: string[]): Promise<void> {
  const results = await checkInvariants(invariants, { db, graceMs: minute });
  const failed = results.filter((r) => !r.ok);
  t.deepEqual(
    failed.map((r) => r.id),
    [id],
    formatInvariantReport(results),
  );
  t.deepEqual([...(failed[0]?.offending ?? [])].sort(), [...offending].sort());
  t.regex(formatInvariantReport(results), new RegExp(`FAIL ${id.replace('.', '\\.')}[^]*${offending[0]}`));
}

test.serial('valid rows of every kind pass every invariant, each check runs, and the core and each plugin contribute', async (t) => {
  const db = await fresh();
  const user = await plantUser(db);
  await plantInstance(db, user);
  await plantInstance(db, user, {
    lifecycle: 'provisioning',
    agent_base_url: null,
    agent_token_encrypted: null,
    provision_deadline: db.raw(`now() + interval '1 minute'`),
    worker_lease_until: db.raw(`now() + interval '1 minute'`),
  });
  const results = await checkInvariants(invariants, { db, graceMs: 0 });
  t.true(
    results.every((r) => r.ok && r.error === undefined),
    formatInvariantReport(results),
  );
  const owners = new Set(results.map((r) => r.id.split('.')[0]));
  t.deepEqual([...owners].sort(), ['core', 'dev', 'game', 'streamspace']);
});

test.serial('core.instance-past-deadline: provisioning past its deadline with no lease, and deleting with its lease long gone', async (t) => {
  const db = await fresh();
  const user = await plantUser(db);
  const late = await plantInstance(db, user, {
    lifecycle: 'provisioning',
    agent_base_url: null,
    agent_token_encrypted: null,
    provision_deadline: ago(db, 5 * minute),
    worker_lease_until: ago(db, 5 * minute),
  });
  const gone = await plantInstance(db, user, { lifecycle: 'deleting', updated_at: ago(db, 5 * minute), worker_lease_until: null });
  // Within the grace: a running server is about to pick these up.
  await plantInstance(db, user, { lifecycle: 'provisioning', agent_base_url: null, agent_token_encrypted: null, provision_deadline: ago(db, 1000), worker_lease_until: null });
  await plantInstance(db, user, { lifecycle: 'deleting', worker_lease_until: db.raw(`now() + interval '1 minute'`) });
  await expectOnly(t, db, 'core.instance-past-deadline', [late, gone]);
});

test.serial('core.user-without-credential: a user whose password hash is not an argon2 hash', async (t) => {
  const db = await fresh();
  await plantUser(db);
  const broken = await plantUser(db, { password_hash: '' });
  await expectOnly(t, db, 'core.user-without-credential', [broken]);
});

test.serial('core.instance-half-created: an active instance without its agent, a provisioning one without a deadline', async (t) => {
  const db = await fresh();
  const user = await plantUser(db);
  const agentless = await plantInstance(db, user, { agent_token_encrypted: null });
  const endless = await plantInstance(db, user, { lifecycle: 'provisioning', provision_deadline: null, worker_lease_until: db.raw(`now() + interval '1 minute'`) });
  await plantInstance(db, user, { lifecycle: 'failed', agent_base_url: null, agent_token_encrypted: null });
  await expectOnly(t, db, 'core.instance-half-created', [agentless, endless]);
});

test.serial('core.billing-event-without-effect: a subscription event left with its placeholder outcome, or applied to an account never synced', async (t) => {
  const db = await fresh();
  const user = await plantUser(db);
  const other = await plantUser(db);
  await db('billing_accounts').insert({ user_id: user, subscription_id: 'sub_ok', plan: 'starter', status: 'active', last_synced_at: db.fn.now() });
  await db('billing_accounts').insert({ user_id: other });
  const event = (id: string, type: string, userId: string | null, outcome: string) => ({ id, type, user_id: userId, stripe_created_at: new Date(), outcome });
  await db('billing_events').insert([
    event('evt_ok', 'customer.subscription.updated', user, 'applied'),
    event('evt_checkout_no_sub', 'checkout.session.completed', null, 'ignored'),
    event('evt_placeholder', 'customer.subscription.updated', user, 'ignored'),
    event('evt_unsynced', 'invoice.paid', other, 'applied'),
  ]);
  await expectOnly(t, db, 'core.billing-event-without-effect', ['evt_placeholder', 'evt_unsynced']);
});

test.serial('core.plan-limit-exceeded: the instances beyond the plan, newest first; suspended ones, exempt accounts and admins do not count', async (t) => {
  const db = await fresh();
  const free = await plantUser(db);
  const at = (minutes: number) => db.raw(`now() - ?::interval`, [`${minutes} minutes`]);
  // The free plan allows 2 game servers: a third running one is over, a suspended one is not.
  await plantInstance(db, free, { created_at: at(3) });
  await plantInstance(db, free, { created_at: at(2) });
  const third = await plantInstance(db, free, { created_at: at(1) });
  await plantInstance(db, free, { lifecycle: 'suspended' });
  // Starter allows 5; a canceled subscription is back on free's 2.
  const starter = await plantUser(db);
  await db('billing_accounts').insert({ user_id: starter, subscription_id: 'sub_s', plan: 'starter', status: 'active', last_synced_at: db.fn.now() });
  for (let i = 0; i < 3; i += 1) await plantInstance(db, starter);
  const canceled = await plantUser(db);
  await db('billing_accounts').insert({ user_id: canceled, subscription_id: 'sub_c', plan: 'starter', status: 'canceled', last_synced_at: db.fn.now() });
  await plantInstance(db, canceled, { kind: 'dev', plugin: 'dev', created_at: at(3) });
  await plantInstance(db, canceled, { kind: 'dev', plugin: 'dev', created_at: at(2) });
  const overDev = await plantInstance(db, canceled, {
    kind: 'dev',
    plugin: 'dev',
    lifecycle: 'provisioning',
    provision_deadline: db.raw(`now() + interval '1 minute'`),
    worker_lease_until: db.raw(`now() + interval '1 minute'`),
  });
  const exempt = await plantUser(db);
  await db('billing_accounts').insert({ user_id: exempt, exempt: true });
  const admin = await plantUser(db, { role: 'admin' });
  for (let i = 0; i < 3; i += 1) {
    await plantInstance(db, exempt);
    await plantInstance(db, admin);
  }
  await expectOnly(t, db, 'core.plan-limit-exceeded', [third, overDev]);
});

test.serial("a plugin invariant whose id is outside the plugin's prefix, or an id declared twice, is refused", (t) => {
  const plans = new Plans(config.billing.plans, config.billing.default_plan);
  const rule = (id: string) => defineInvariant({ id, title: 't', explanation: 'e', remedy: 'r', offending: async () => [] });
  const plugin = (invariants: PanelPlugin['invariants']): PanelPlugin => ({ id: 'demo', invariants, setup: () => ({}) });
  t.throws(() => panelInvariants(plans, [{ plugin: plugin([rule('core.sneaky')]), config: {}, prefixes: [] }]), { message: /"core\.sneaky".*"demo\."/ });
  t.throws(() => panelInvariants(plans, [{ plugin: plugin([rule('demo.a'), rule('demo.a')]), config: {}, prefixes: [] }]), { message: /two invariants have the id "demo\.a"/ });
  t.is(panelInvariants(plans, [{ plugin: plugin([rule('demo.a')]), config: {}, prefixes: [] }]).at(-1)?.id, 'demo.a');
});
