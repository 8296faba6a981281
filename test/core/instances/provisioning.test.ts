import test from 'ava';
import { startTestApp, type TestApp } from '../../helpers/start-test-app.ts';
import { bearer, json, loginAdmin, type Session } from '../../helpers/auth.ts';
import { eventually, fastAgents, registerAgent } from '../../helpers/agent-core.ts';
import { startFakeAgents, type FakeAgents } from '../../fakes/fake-agents.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-database.ts';

let fakes: FakeAgents;

test.before(async () => {
  fakes = await startFakeAgents();
});

test.after.always(async () => {
  await fakes?.close();
});

/** Each test gets its own database, so the static pool holds only its own agents. */
async function ownApp(t: import('ava').ExecutionContext, testDatabase?: TestDatabase): Promise<{ app: TestApp; admin: Session }> {
  const app = await startTestApp({ config: fastAgents, testDatabase });
  t.teardown(() => app.close());
  return { app, admin: await loginAdmin(app) };
}

const lifecycleOf = async (app: TestApp, id: string) => (await app.server.instances.get(id, null)).state.lifecycle;

test('an agent that answers ready:false for a while: active only after it turns ready', async (t) => {
  const { app, admin } = await ownApp(t);
  const agent = await registerAgent(app, admin, fakes);
  fakes.setFault(agent.id, { mode: 'not_ready', reason: 'installing' });
  const created = await app.server.instances.create({ ownerId: admin.user.id, kind: 'game', plugin: 'test', name: 'slow-start' });
  t.is(created.state.lifecycle, 'provisioning');
  await new Promise((r) => setTimeout(r, 1_500));
  t.is(await lifecycleOf(app, created.id), 'provisioning');
  fakes.setFault(agent.id, { mode: 'normal' });
  await eventually(async () => (await lifecycleOf(app, created.id)) === 'active', 5_000, 'active');
  const events = await app.testDatabase.database.knex('events').whereRaw(`data->>'instance_id' = ?`, [created.id]).orderBy('id').select<Array<{ data: { state: { lifecycle: string } } }>>('data');
  t.deepEqual(
    events.map((e) => e.data.state.lifecycle),
    ['provisioning', 'active'],
  );
});

test('an agent that never turns ready: failed at the deadline with the reason, and the agent is released', async (t) => {
  const { app, admin } = await ownApp(t);
  const agent = await registerAgent(app, admin, fakes);
  fakes.setFault(agent.id, { mode: 'not_ready', reason: 'disk check' });
  const created = await app.server.instances.create({ ownerId: admin.user.id, kind: 'game', plugin: 'test', name: 'never-ready' });
  const failed = await eventually(
    async () => {
      const current = await app.server.instances.get(created.id, null);
      return current.state.lifecycle === 'failed' ? current : undefined;
    },
    8_000,
    'failed',
  );
  t.regex(failed.lifecycleReason ?? '', /never became ready \(disk check\)/);
  const pool = await app.testDatabase.database.knex('agent_pool').where({ id: agent.poolId }).first<{ instance_id: string | null }>('instance_id');
  t.is(pool?.instance_id, null);
});

test('no free agent: failed at once with a reason an admin can act on', async (t) => {
  const { app, admin } = await ownApp(t);
  const created = await app.server.instances.create({ ownerId: admin.user.id, kind: 'game', plugin: 'test', name: 'no-agent' });
  const failed = await eventually(
    async () => {
      const current = await app.server.instances.get(created.id, null);
      return current.state.lifecycle === 'failed' ? current : undefined;
    },
    5_000,
    'failed',
  );
  t.regex(failed.lifecycleReason ?? '', /No free game agent/);
});

test('provisioning interrupted by a stop of the API is resumed by the next start', async (t) => {
  const db = await createTestDatabase();
  t.teardown(() => db.drop());
  const first = await startTestApp({ config: fastAgents, testDatabase: db });
  const admin = await loginAdmin(first);
  const agent = await registerAgent(first, admin, fakes);
  fakes.setFault(agent.id, { mode: 'not_ready', reason: 'installing' });
  const created = await first.server.instances.create({ ownerId: admin.user.id, kind: 'game', plugin: 'test', name: 'interrupted' });
  await first.close();
  // A crash leaves the lease to run out; simulate that the dead replica's lease has expired.
  await db.database
    .knex('instances')
    .where({ id: created.id })
    .update({ worker_id: 'dead-replica', worker_lease_until: new Date(Date.now() - 1000) });
  fakes.setFault(agent.id, { mode: 'normal' });
  const second = await startTestApp({ config: fastAgents, testDatabase: db });
  t.teardown(() => second.close());
  await eventually(async () => (await lifecycleOf(second, created.id)) === 'active', 6_000, 'resumed to active');
  t.pass();
});

test('provisioning whose deadline passed while the API was down is failed cleanly on restart', async (t) => {
  const db = await createTestDatabase();
  t.teardown(() => db.drop());
  const first = await startTestApp({ config: fastAgents, testDatabase: db });
  const admin = await loginAdmin(first);
  const agent = await registerAgent(first, admin, fakes);
  fakes.setFault(agent.id, { mode: 'not_ready' });
  const created = await first.server.instances.create({ ownerId: admin.user.id, kind: 'game', plugin: 'test', name: 'expired' });
  await first.close();
  await db.database
    .knex('instances')
    .where({ id: created.id })
    .update({ provision_deadline: new Date(Date.now() - 1000), worker_lease_until: null });
  const second = await startTestApp({ config: fastAgents, testDatabase: db });
  t.teardown(() => second.close());
  await eventually(async () => (await lifecycleOf(second, created.id)) === 'failed', 6_000, 'failed on restart');
  const pool = await db.database.knex('agent_pool').where({ id: agent.poolId }).first<{ instance_id: string | null }>('instance_id');
  t.is(pool?.instance_id, null, 'nothing left allocated');
});

test('deleting an instance releases its agent, removes the row and publishes instance.deleted', async (t) => {
  const { app, admin } = await ownApp(t);
  const agent = await registerAgent(app, admin, fakes);
  const created = await app.server.instances.create({ ownerId: admin.user.id, kind: 'game', plugin: 'test', name: 'doomed' });
  await eventually(async () => (await lifecycleOf(app, created.id)) === 'active', 5_000, 'active');
  await app.server.instances.remove(created.id);
  const { knex } = app.testDatabase.database;
  await eventually(async () => (await knex('instances').where({ id: created.id })).length === 0, 5_000, 'row gone');
  const pool = await knex('agent_pool').where({ id: agent.poolId }).first<{ instance_id: string | null; needs_wipe: boolean }>('instance_id', 'needs_wipe');
  t.is(pool?.instance_id, null);
  t.true(pool?.needs_wipe, "the agent still holds the last tenant's data");
  t.is((await knex('events').where({ type: 'instance.deleted' }).whereRaw(`data->>'instance_id' = ?`, [created.id])).length, 1);
  // Not handed to the next tenant until an admin wipes it and says so.
  const next = await app.server.instances.create({ ownerId: admin.user.id, kind: 'game', plugin: 'test', name: 'next-tenant' });
  await eventually(async () => (await lifecycleOf(app, next.id)) === 'failed', 5_000, 'no agent for the next tenant');
  const reuse = await app.request(`/api/admin/agents/${agent.poolId}/ready-for-reuse`, bearer(admin.access_token, { method: 'POST' }));
  t.is(reuse.status, 200);
  t.false(((await reuse.json()) as { agent: { needs_wipe: boolean } }).agent.needs_wipe);
});

test('admin agent registration checks health and semantic readiness first; duplicates and agents in use are refused', async (t) => {
  const { app, admin } = await ownApp(t);
  const post = (body: unknown) => app.request('/api/admin/agents', bearer(admin.access_token, json(body)));
  const notReady = fakes.add({ fault: { mode: 'not_ready', reason: 'installing' } });
  const refused = await post({ name: 'n', base_url: notReady.baseUrl, token: notReady.token });
  t.is(refused.status, 503);
  t.is(((await refused.json()) as { code: string }).code, 'AGENT_NOT_READY');
  const hung = fakes.add({ fault: { mode: 'hang' } });
  const timedOut = await post({ name: 'h', base_url: hung.baseUrl, token: hung.token });
  t.is(timedOut.status, 504);
  const wrongToken = fakes.add();
  t.is((await post({ name: 'w', base_url: wrongToken.baseUrl, token: 'not-the-right-token' })).status, 401);
  const good = fakes.add();
  t.is((await post({ name: 'g', base_url: good.baseUrl, token: good.token })).status, 201);
  t.is((await post({ name: 'g2', base_url: good.baseUrl, token: good.token })).status, 409);
  const list = (await (await app.request('/api/admin/agents', bearer(admin.access_token))).json()) as { agents: Array<{ id: string; base_url: string }> };
  t.false(JSON.stringify(list).includes(good.token), 'tokens are never returned');
  const created = await app.server.instances.create({ ownerId: admin.user.id, kind: 'game', plugin: 'test', name: 'uses-it' });
  await eventually(async () => (await lifecycleOf(app, created.id)) === 'active', 5_000, 'active');
  const inUse = list.agents.find((a) => a.base_url === good.baseUrl);
  const del = await app.request(`/api/admin/agents/${inUse?.id}`, bearer(admin.access_token, { method: 'DELETE' }));
  t.is(del.status, 409);
  const sealed = await app.testDatabase.database.knex('agent_pool').select('token_encrypted');
  t.false(JSON.stringify(sealed).includes(good.token), 'stored encrypted');
});
