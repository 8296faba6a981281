import test from 'ava';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { createUser, loginAdmin, type Session } from '../../helpers/auth.ts';
import { registerAgent } from '../../helpers/agent-core.ts';
import { startFakeAgents, type FakeAgents } from '../../fakes/fake-agents.ts';
import { call, createServer, gameTestConfig, startGameApp, waitForServer } from './game-helpers.ts';

/** Agents that are down, hung or refusing: answers come back in time, with the right codes, and nothing is left half-done. */
let app: TestApp;
let fakes: FakeAgents;
let admin: Session;
let user: Session;

test.before(async () => {
  fakes = await startFakeAgents();
  app = await startGameApp(
    gameTestConfig('static', {
      billing: { plans: [{ id: 'free', name: 'Free', price_id: null, amount: 0, currency: 'usd', limits: { game_servers: 50, dev_containers: 2, backups_per_server: 100 } }], default_plan: 'free' },
    }),
  );
  admin = await loginAdmin(app);
  user = await createUser(app, admin);
});

test.after.always(async () => {
  await app?.close();
  await fakes?.close();
});

/** A server on its own fake agent, already active. */
async function activeServer(name: string): Promise<{ id: string; agent: string }> {
  const { id: agent } = await registerAgent(app, admin, fakes);
  const server = await createServer(app, user, name);
  await waitForServer(app, user, server.id, (s) => s.state.lifecycle === 'active', 'active', 15_000);
  return { id: server.id, agent };
}

test.serial('agent down: power and console answer 504 AGENT_UNREACHABLE in time; the list still answers fast from the cache with reachable:false', async (t) => {
  const { id, agent } = await activeServer('Down under');
  fakes.setFault(agent, { mode: 'close' });
  for (const [method, path, body] of [
    ['POST', `/api/game/servers/${id}/start`],
    ['POST', `/api/game/servers/${id}/stop`],
    ['POST', `/api/game/servers/${id}/console/command`, { command: 'say hi' }],
    ['GET', `/api/game/servers/${id}/console/logs`],
  ] as Array<[string, string, unknown?]>) {
    const started = Date.now();
    const res = await call(app, user, method, path, body);
    t.is(res.status, 504, `${method} ${path}`);
    t.is(res.body.code, 'AGENT_UNREACHABLE', `${method} ${path}`);
    t.true(Date.now() - started < 3_500, `${method} ${path} took ${Date.now() - started} ms (action timeout 3000)`);
  }
  const server = await waitForServer(app, user, id, (s) => !s.state.reachable, 'the poller to notice', 10_000);
  t.like(server.state, { lifecycle: 'active', reachable: false, status: 'unknown' });
  const started = Date.now();
  const list = await call(app, user, 'GET', '/api/game/servers?limit=100');
  t.is(list.status, 200);
  t.true(Date.now() - started < 500, `the list took ${Date.now() - started} ms`);
  fakes.setFault(agent, { mode: 'normal' });
});

test.serial('a hung agent: power answers 504 AGENT_TIMEOUT after the configured timeout, not later', async (t) => {
  const { id, agent } = await activeServer('Hung');
  fakes.setFault(agent, { mode: 'hang' });
  const started = Date.now();
  const res = await call(app, user, 'POST', `/api/game/servers/${id}/restart`);
  const took = Date.now() - started;
  t.is(res.status, 504);
  t.is(res.body.code, 'AGENT_TIMEOUT');
  t.true(took >= 2_900 && took < 4_000, `took ${took} ms`);
  fakes.setFault(agent, { mode: 'normal' });
});

test.serial('the agent answering 409 or 500 to a backup call reaches the client as 409 AGENT_ERROR / 502 AGENT_BAD_RESPONSE with its body, and leaves no record', async (t) => {
  const { id, agent } = await activeServer('Refusing');
  fakes.setFault(agent, { mode: 'refuse', status: 409, routes: ['POST /backups'] });
  const conflict = await call(app, user, 'POST', `/api/game/servers/${id}/backups`, { name: 'nope' });
  t.is(conflict.status, 409);
  t.like(conflict.body, { code: 'AGENT_ERROR', details: { agent_status: 409, agent_body: { code: 'refused' } } });

  fakes.setFault(agent, { mode: 'refuse', status: 500, routes: ['GET /backups', 'POST /backups/restore'] });
  const broken = await call(app, user, 'GET', `/api/game/servers/${id}/backups`);
  t.is(broken.status, 502);
  t.like(broken.body, { code: 'AGENT_BAD_RESPONSE', details: { agent_status: 500, agent_body: { code: 'refused' } } });

  fakes.setFault(agent, { mode: 'normal' });
  t.deepEqual((await call(app, user, 'GET', `/api/game/servers/${id}/backups`)).body.backups, [], 'the refused backup left no record');
  t.is((await call(app, user, 'POST', `/api/game/servers/${id}/backups`, { name: 'fine' })).status, 202);
  const [backup] = (await call(app, user, 'GET', `/api/game/servers/${id}/backups`)).body.backups as Array<{ id: string }>;

  // A restore the agent refuses puts the server straight back to active.
  fakes.setFault(agent, { mode: 'refuse', status: 500, routes: ['POST /backups/restore'] });
  const restore = await call(app, user, 'POST', `/api/game/servers/${id}/backups/restore?id=${backup?.id}`);
  t.is(restore.status, 502);
  t.like((await call(app, user, 'GET', `/api/game/servers/${id}`)).body.server, { state: { lifecycle: 'active' }, lifecycle_reason: null });
  fakes.setFault(agent, { mode: 'normal' });
});

test.serial('power and console are refused with 409 INSTANCE_NOT_ACTIVE while the server is provisioning', async (t) => {
  const { id: agent } = await registerAgent(app, admin, fakes);
  fakes.setFault(agent, { mode: 'not_ready', reason: 'installing', status: 503 });
  const server = await createServer(app, user, 'Still installing');
  for (const action of ['start', 'stop', 'restart']) {
    const res = await call(app, user, 'POST', `/api/game/servers/${server.id}/${action}`);
    t.is(res.status, 409, action);
    t.like(res.body, { code: 'INSTANCE_NOT_ACTIVE', details: { lifecycle: 'provisioning' } });
  }
  t.is((await call(app, user, 'POST', `/api/game/servers/${server.id}/console/command`, { command: 'x' })).status, 409);
  t.is((await call(app, user, 'POST', `/api/game/servers/${server.id}/console/ticket`)).status, 409);
  t.is((await call(app, user, 'POST', `/api/game/servers/${server.id}/backups`, {})).status, 409);
});

test('bad input gets a precise error: names, templates, commands, log line counts, ids', async (t) => {
  const cases: Array<[string, string, unknown, number, string]> = [
    ['POST', '/api/game/servers', { name: '' }, 400, 'VALIDATION_FAILED'],
    ['POST', '/api/game/servers', { name: '<script>' }, 400, 'VALIDATION_FAILED'],
    ['POST', '/api/game/servers', { name: 'x'.repeat(65) }, 400, 'VALIDATION_FAILED'],
    ['POST', '/api/game/servers', { name: 'ok', extra: 1 }, 400, 'VALIDATION_FAILED'],
    ['POST', '/api/game/servers', { name: 'ok', template: 'nope' }, 400, 'TEMPLATE_UNKNOWN'],
    ['GET', '/api/game/servers/not-a-uuid', undefined, 400, 'VALIDATION_FAILED'],
    ['GET', '/api/game/servers?status=sleeping', undefined, 400, 'VALIDATION_FAILED'],
    ['POST', '/api/game/servers/00000000-0000-4000-8000-000000000000/console/command', { command: 'a\u0000b' }, 400, 'VALIDATION_FAILED'],
    ['POST', '/api/game/servers/00000000-0000-4000-8000-000000000000/console/command', { command: 'x'.repeat(4097) }, 400, 'VALIDATION_FAILED'],
    ['GET', '/api/game/servers/00000000-0000-4000-8000-000000000000/console/logs?lines=1001', undefined, 400, 'VALIDATION_FAILED'],
    ['GET', '/api/game/servers/00000000-0000-4000-8000-000000000000/console/logs', undefined, 404, 'NOT_FOUND'],
    ['POST', '/api/game/servers/00000000-0000-4000-8000-000000000000/backups/restore', undefined, 400, 'VALIDATION_FAILED'],
  ];
  for (const [method, path, body, status, code] of cases) {
    const res = await call(app, user, method, path, body);
    t.is(res.status, status, `${method} ${path} ${JSON.stringify(body)}`);
    t.is(res.body.code, code, `${method} ${path} ${JSON.stringify(body)}`);
  }
});

test('every game route is in the OpenAPI document with a summary, its error codes, and an example of its success body', async (t) => {
  const doc = (await (await app.request('/openapi.json')).json()) as {
    paths: Record<string, Record<string, { summary?: string; responses: Record<string, { content?: Record<string, { example?: unknown }> }> }>>;
  };
  const game = Object.entries(doc.paths).filter(([path]) => path.startsWith('/api/game/'));
  t.true(game.length >= 10);
  for (const [path, operations] of game) {
    for (const [method, op] of Object.entries(operations)) {
      t.truthy(op.summary, `${method} ${path}`);
      // JSON bodies; a download's bytes (a .tar.gz, a file) cannot be shown in the document.
      const success = Object.entries(op.responses).filter(([status, r]) => status.startsWith('2') && r.content?.['application/json']);
      for (const [status, response] of success) {
        if (path.endsWith('/templates')) continue; // read from config; there is nothing to exemplify
        t.not(response.content?.['application/json']?.example, undefined, `${method.toUpperCase()} ${path} ${status} has an example`);
      }
    }
  }
  t.truthy(doc.paths['/api/game/servers/{id}/start']?.post?.responses['409'], 'power documents INSTANCE_NOT_ACTIVE');
  t.truthy(doc.paths['/api/game/servers/{id}/start']?.post?.responses['504'], 'power documents the agent timeouts');
});
