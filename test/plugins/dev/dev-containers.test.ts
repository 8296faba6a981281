import test from 'ava';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { createUser, loginAdmin, type Session } from '../../helpers/auth.ts';
import { registerAgent } from '../../helpers/agent-core.ts';
import { startFakeAgents, type FakeAgents } from '../../fakes/fake-agents.ts';
import type { DevContainer } from '../../../plugins/dev/dev-container.ts';
import { call, createContainer, devTestConfig, startDevApp, waitForContainer } from './dev-helpers.ts';

/** The dev container API on fake agents: vmids, ownership, plan limits, IDE controls and their failures. */
let app: TestApp;
let fakes: FakeAgents;
let admin: Session;

test.before(async () => {
  fakes = await startFakeAgents();
  app = await startDevApp(
    devTestConfig(
      'static',
      { billing: { plans: [{ id: 'free', name: 'Free', price_id: null, amount: 0, currency: 'usd', limits: { game_servers: 2, dev_containers: 2, backups_per_server: 100 } }], default_plan: 'free' } },
      { vmid_min: 500, vmid_max: 502 },
    ),
  );
  admin = await loginAdmin(app);
});

test.after.always(async () => {
  await app?.close();
  await fakes?.close();
});

async function activeContainer(user: Session, name: string): Promise<{ box: DevContainer; agent: string }> {
  const { id: agent } = await registerAgent(app, admin, fakes, { dev: true });
  const box = await createContainer(app, user, name);
  await waitForContainer(app, user, box.id, (c) => c.state.lifecycle === 'active', 'active', 15_000);
  return { box, agent };
}

test.serial('vmids come from the configured range, one each; the plan limit holds; a full range answers 503', async (t) => {
  const user = await createUser(app, admin);
  // One fake agent per container that will exist (static pool agents are not reused until wiped).
  for (let i = 0; i < 3; i += 1) await registerAgent(app, admin, fakes, { dev: true });
  const first = await createContainer(app, user, 'one');
  const second = await createContainer(app, user, 'two');
  t.deepEqual([first.vmid, second.vmid], [500, 501]);
  const third = await call(app, user, 'POST', '/api/dev', { name: 'three' });
  t.is(third.status, 402);
  t.like(third.body, { code: 'PLAN_LIMIT_REACHED', details: { kind: 'dev', limit: 2 } });
  // Admins have no plan limit, but the range has one vmid left.
  const [a, b] = await Promise.all([call(app, admin, 'POST', '/api/dev', { name: 'admin a' }), call(app, admin, 'POST', '/api/dev', { name: 'admin b' })]);
  t.deepEqual([a.status, b.status].sort(), [202, 503]);
  t.is((a.status === 503 ? a : b).body.code, 'VMID_RANGE_EXHAUSTED');
  const vmids = new Set([first.vmid, second.vmid, ((a.status === 202 ? a : b).body.container as DevContainer).vmid]);
  t.is(vmids.size, 3);
  for (const id of [first.id, second.id, ((a.status === 202 ? a : b).body.container as DevContainer).id]) await call(app, admin, 'DELETE', `/api/dev/${id}`);
});

test.serial('another user gets 404 on every container route; the list is their own; admins filter by user', async (t) => {
  const owner = await createUser(app, admin);
  const stranger = await createUser(app, admin);
  const { box } = await activeContainer(owner, 'mine');
  for (const [method, path] of [
    ['GET', `/api/dev/${box.id}`],
    ['DELETE', `/api/dev/${box.id}`],
    ['POST', `/api/dev/${box.id}/codeserver/start`],
    ['POST', `/api/dev/${box.id}/codeserver/stop`],
    ['POST', `/api/dev/${box.id}/codeserver/restart`],
    ['POST', `/api/dev/${box.id}/ide-token`],
  ] as Array<[string, string]>) {
    const res = await call(app, stranger, method, path);
    t.is(res.status, 404, `${method} ${path}`);
    t.is(res.body.code, 'NOT_FOUND');
  }
  t.deepEqual((await call(app, stranger, 'GET', '/api/dev')).body.containers, []);
  t.deepEqual(
    ((await call(app, admin, 'GET', `/api/dev?user_id=${owner.user.id}`)).body.containers as DevContainer[]).map((c) => c.id),
    [box.id],
  );
  t.is((await call(app, stranger, 'GET', `/api/dev?user_id=${owner.user.id}`)).status, 403);
  await call(app, owner, 'DELETE', `/api/dev/${box.id}`);
});

test.serial('code-server controls reach the agent and re-poll at once; agent failures map to the usual codes', async (t) => {
  const user = await createUser(app, admin);
  const { box, agent } = await activeContainer(user, 'controls');
  const started = await call(app, user, 'POST', `/api/dev/${box.id}/codeserver/start`);
  t.is(started.status, 202);
  t.like(started.body, { action: 'start', codeserver: { state: 'running' } });
  const seen = await waitForContainer(app, user, box.id, (c) => c.codeserver.state === 'running', 'running', 1_500);
  t.is((seen.state.details.codeserver as { state: string }).state, 'running');

  fakes.setFault(agent, { mode: 'close' });
  const down = await call(app, user, 'POST', `/api/dev/${box.id}/codeserver/restart`);
  t.is(down.status, 504);
  t.is(down.body.code, 'AGENT_UNREACHABLE');
  fakes.setFault(agent, { mode: 'refuse', status: 500, routes: ['POST /dev/codeserver/stop'] });
  const broken = await call(app, user, 'POST', `/api/dev/${box.id}/codeserver/stop`);
  t.is(broken.status, 502);
  t.is(broken.body.code, 'AGENT_BAD_RESPONSE');
  fakes.setFault(agent, { mode: 'normal' });
  await call(app, user, 'DELETE', `/api/dev/${box.id}`);
});

test('bad input gets a precise error', async (t) => {
  const user = await createUser(app, admin);
  for (const [method, path, body, status, code] of [
    ['POST', '/api/dev', { name: '' }, 400, 'VALIDATION_FAILED'],
    ['POST', '/api/dev', { name: 'a/b' }, 400, 'VALIDATION_FAILED'],
    ['POST', '/api/dev', { name: 'ok', template: 'missing' }, 400, 'TEMPLATE_UNKNOWN'],
    ['GET', '/api/dev/123', undefined, 400, 'VALIDATION_FAILED'],
    ['POST', '/api/dev/00000000-0000-4000-8000-000000000000/ide-token', undefined, 404, 'NOT_FOUND'],
  ] as Array<[string, string, unknown, number, string]>) {
    const res = await call(app, user, method, path, body);
    t.is(res.status, status, `${method} ${path}`);
    t.is(res.body.code, code, `${method} ${path}`);
  }
});

test('every dev route is in the OpenAPI document with an example of its success body', async (t) => {
  const doc = (await (await app.request('/openapi.json')).json()) as { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { example?: unknown }> }> }>> };
  const dev = Object.entries(doc.paths).filter(([path]) => path.startsWith('/api/dev'));
  t.true(dev.length >= 6);
  for (const [path, operations] of dev) {
    for (const [method, op] of Object.entries(operations)) {
      for (const [status, response] of Object.entries(op.responses)) {
        // JSON bodies; a download's bytes (application/octet-stream) cannot be shown in the document.
        if (status.startsWith('2') && response.content?.['application/json']) t.not(response.content['application/json'].example, undefined, `${method} ${path} ${status}`);
      }
    }
  }
});
