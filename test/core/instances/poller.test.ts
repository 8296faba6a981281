import test from 'ava';
import { startTestApp, type TestApp } from '../../helpers/start-test-app.ts';
import { loginAdmin, type Session } from '../../helpers/auth.ts';
import { eventually, fastAgents, registerAgent } from '../../helpers/agent-core.ts';
import { startFakeAgents, type FakeAgents, type FaultMode } from '../../fakes/fake-agents.ts';
import type { Instance } from '../../../src/core/instances/instance-service.ts';

let app: TestApp;
let admin: Session;
let fakes: FakeAgents;

test.before(async () => {
  fakes = await startFakeAgents();
  app = await startTestApp({ config: fastAgents });
  admin = await loginAdmin(app);
});

test.after.always(async () => {
  await app?.close();
  await fakes?.close();
});

const instances = () => app.server.instances;

async function activeInstance(): Promise<{ instance: Instance; agentId: string }> {
  await registerAgent(app, admin, fakes);
  const created = await instances().create({ ownerId: admin.user.id, kind: 'game', plugin: 'test', name: 'poll-test' });
  const instance = await eventually(
    async () => {
      const current = await instances().get(created.id, null);
      return current.state.lifecycle === 'active' ? current : undefined;
    },
    8_000,
    'instance to become active',
  );
  // Tests run concurrently and the pool hands out any free agent: find the one this instance got.
  const pooled = await app.testDatabase.database.knex('agent_pool').where({ instance_id: instance.id }).first<{ name: string }>('name');
  return { instance, agentId: pooled?.name ?? '' };
}

async function stateAfter(instanceId: string): Promise<Instance['state']> {
  await app.server.poller.pollNow(instanceId);
  return (await instances().get(instanceId, null)).state;
}

test("a ready agent makes an active, reachable, ready instance with the agent's status", async (t) => {
  const { instance } = await activeInstance();
  t.like(instance.state, { lifecycle: 'active', reachable: true, ready: true, status: 'stopped', error: null, stale: false });
  t.is((instance.state.details as { state?: string }).state, 'stopped');
  t.truthy(instance.state.last_seen_at);
});

const faults: Array<[string, FaultMode, { reachable: boolean; status: Instance['state']['status']; code: string }]> = [
  ['hang', { mode: 'hang' }, { reachable: false, status: 'unknown', code: 'AGENT_TIMEOUT' }],
  ['slow', { mode: 'slow', delayMs: 2_500 }, { reachable: false, status: 'unknown', code: 'AGENT_TIMEOUT' }],
  ['error500', { mode: 'error500' }, { reachable: true, status: 'unknown', code: 'AGENT_BAD_RESPONSE' }],
  ['garbage', { mode: 'garbage' }, { reachable: true, status: 'unknown', code: 'AGENT_BAD_RESPONSE' }],
  ['not_ready (200, ready:false)', { mode: 'not_ready', reason: 'warming up' }, { reachable: true, status: 'stopped', code: 'AGENT_NOT_READY' }],
  ['not_ready (503)', { mode: 'not_ready', reason: 'installing', status: 503 }, { reachable: true, status: 'stopped', code: 'AGENT_NOT_READY' }],
  ['close', { mode: 'close' }, { reachable: false, status: 'unknown', code: 'AGENT_UNREACHABLE' }],
  ['drip', { mode: 'drip', byteDelayMs: 150 }, { reachable: false, status: 'unknown', code: 'AGENT_TIMEOUT' }],
];

for (const [name, fault, expected] of faults) {
  test(`fault "${name}": normalized state is right and ready is false; it recovers when the agent does`, async (t) => {
    const { instance, agentId } = await activeInstance();
    fakes.setFault(agentId, fault);
    const state = await stateAfter(instance.id);
    t.is(state.lifecycle, 'active');
    t.is(state.reachable, expected.reachable);
    t.false(state.ready);
    t.is(state.status, expected.status);
    t.is(state.error?.code, expected.code);
    // The last good snapshot is kept for the portal.
    t.is((state.details as { state?: string }).state, 'stopped');
    fakes.setFault(agentId, { mode: 'normal' });
    const recovered = await stateAfter(instance.id);
    t.like(recovered, { reachable: true, ready: true, status: 'stopped', error: null });
  });
}

test('a user-visible change is stored and published as instance.state; an unchanged poll publishes nothing', async (t) => {
  const { instance, agentId } = await activeInstance();
  const { knex } = app.testDatabase.database;
  const count = async () => Number((await knex('events').where({ type: 'instance.state' }).whereRaw(`data->>'instance_id' = ?`, [instance.id]).count<Array<{ n: string | number }>>('* as n'))[0]?.n);
  const before = await count();
  await stateAfter(instance.id);
  t.is(await count(), before, 'nothing visible changed');
  fakes.setFault(agentId, { mode: 'error500' });
  await stateAfter(instance.id);
  t.is(await count(), before + 1);
  const stored = await knex('instances').where({ id: instance.id }).first<{ state: { error: { code: string } } }>('state');
  t.is(stored?.state.error.code, 'AGENT_BAD_RESPONSE');
  fakes.setFault(agentId, { mode: 'normal' });
  await stateAfter(instance.id);
});

test('a hung agent does not delay polls of healthy ones', async (t) => {
  const hung = await activeInstance();
  const healthy = await activeInstance();
  fakes.setFault(hung.agentId, { mode: 'hang' });
  const slow = app.server.poller.pollNow(hung.instance.id);
  const started = Date.now();
  await app.server.poller.pollNow(healthy.instance.id);
  // The hung one holds its poll for the whole 1 s timeout; the healthy one must not wait for it.
  t.true(Date.now() - started < 600, `healthy poll took ${Date.now() - started} ms`);
  await slow;
  fakes.setFault(hung.agentId, { mode: 'normal' });
});

test('unreachable agents are polled with backoff, and picked up again when they come back', async (t) => {
  const { instance, agentId } = await activeInstance();
  fakes.setFault(agentId, { mode: 'close' });
  await stateAfter(instance.id);
  const before = fakes.requests(agentId);
  await new Promise((r) => setTimeout(r, 1_500));
  // At a 500 ms interval a healthy agent gets ~3 polls (9 requests) here; a backed-off one far fewer.
  t.true(fakes.requests(agentId) - before <= 3, `${fakes.requests(agentId) - before} requests during backoff`);
  fakes.setFault(agentId, { mode: 'normal' });
  const state = await eventually(
    async () => {
      const s = (await instances().get(instance.id, null)).state;
      return s.ready ? s : undefined;
    },
    6_000,
    'recovery',
  );
  t.true(state.reachable);
});

test('a reload sees a share row changed behind its back, though unchanged reloads skip reading the rows', async (t) => {
  const { instance } = await activeInstance();
  const { poller } = app.server;
  await poller.reload();
  t.truthy(poller.cached(instance.id));
  // Another replica (or an operator) takes the instance out of the polled lifecycles.
  await app.testDatabase.database.knex('instances').where({ id: instance.id }).update({ lifecycle: 'failed' });
  await poller.reload();
  t.is(poller.cached(instance.id), undefined);
});

test('a routine flush stores each dirty state, details included', async (t) => {
  const { instance, agentId } = await activeInstance();
  fakes.setFault(agentId, { mode: 'normal' });
  await stateAfter(instance.id);
  const polledAt = app.server.poller.cached(instance.id)?.checked_at ?? '';
  await app.server.poller.flush(true);
  const stored = await app.testDatabase.database.knex('instances').where({ id: instance.id }).first<{ state: { checked_at: string; details: { state?: string } } }>('state');
  // Routine polls keep running (a later one may have been written too): at least this poll is stored.
  t.true((stored?.state.checked_at ?? '') >= polledAt, `${stored?.state.checked_at} < ${polledAt}`);
  t.is(stored?.state.details.state, 'stopped');
});
