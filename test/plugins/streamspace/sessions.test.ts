import test from 'ava';
import { testAdminPassword, type TestApp } from '../../helpers/start-test-app.ts';
import { runJob } from '../../helpers/run-job.ts';
import { call, connectAgent, startStreamspace, v1, v1Admin, v1User, waitFor, waitState, withAgent, type V1Session } from './ss-helpers.ts';

let app: TestApp;
let admin: V1Session;
let agents = 0;

test.before(async () => {
  app = await startStreamspace({}, { state_wait_ms: 3000, stuck_after_ms: 1000 });
  admin = await v1Admin(app);
});
test.after.always(async () => {
  await app.close();
});

const nextAgent = (): string => `sess-agent-${(agents += 1)}`;
const create = (token: string, body: Record<string, unknown>) => call(app, 'POST', `${v1}/sessions`, token, { template: 'firefox-browser', ...body });

test('a session belongs to the caller unless an admin names another user; a non-admin naming someone else gets 403', async (t) => {
  await withAgent(app, admin, {}, async (agent, platform) => {
    const alice = await v1User(app, admin);
    const bob = await v1User(app, admin);
    const mine = await create(alice.token, { platform });
    t.is(mine.status, 202);
    t.is(mine.body.user, alice.user.username);
    t.is(mine.body.idle_timeout, '30m', "the template's idle timeout by default");
    t.deepEqual(mine.body.resources, { memory: '2Gi', cpu: '1000m', storage: '10Gi' });
    const forBob = await create(alice.token, { platform, user: bob.user.username });
    t.is(forBob.status, 403);
    t.is(forBob.body.code, 'AUTH_INSUFFICIENT_PERMISSIONS');
    const byAdmin = await create(admin.token, { platform, user: bob.user.username, resources: { memory: '4Gi' }, idle_timeout: '2h', tags: ['x'] });
    t.is(byAdmin.status, 202);
    t.is(byAdmin.body.user, bob.user.username);
    t.is(byAdmin.body.resources.memory, '4Gi');
    t.is(byAdmin.body.idle_timeout, '2h');
  });
});

test("a user cannot read, change, delete, log or view another user's session (404), and does not see it listed; admins see all", async (t) => {
  await withAgent(app, admin, {}, async (agent, platform) => {
    const alice = await v1User(app, admin);
    const bob = await v1User(app, admin);
    const id = (await create(alice.token, { platform })).body.id as string;
    await waitState(app, alice.token, id, 'running');
    for (const [method, path, body] of [
      ['GET', `${v1}/sessions/${id}`],
      ['PATCH', `${v1}/sessions/${id}`, { state: 'hibernated' }],
      ['DELETE', `${v1}/sessions/${id}`],
      ['DELETE', `${v1}/sessions/${id}?force=true`],
      ['GET', `${v1}/sessions/${id}/logs`],
      ['GET', `${v1}/sessions/${id}/vnc-token`],
    ] as Array<[string, string, unknown?]>) {
      const res = await call(app, method, path, bob.token, body);
      t.is(res.status, 404, `${method} ${path}`);
      t.is(res.body.code, 'SESSION_NOT_FOUND');
    }
    t.is((await call(app, 'GET', `${v1}/sessions/${id}/commands`, bob.token)).status, 403);
    t.is((await call(app, 'GET', `${v1}/sessions?user=${alice.user.username}`, bob.token)).body.sessions.length, 0);
    t.is((await call(app, 'GET', `${v1}/sessions/${id}`, alice.token)).body.state, 'running', 'nothing changed');
    t.is((await call(app, 'GET', `${v1}/sessions?user=${alice.user.username}`, admin.token)).body.sessions.length, 1);
  });
});

test('the list filters by user, template, platform, agent, state and tags (all of them), sorts, orders and pages; terminated only when asked', async (t) => {
  await withAgent(app, admin, {}, async (agent, platform) => {
    const user = await v1User(app, admin);
    const a = (await create(user.token, { platform, tags: ['alpha', 'dev'] })).body.id as string;
    const b = (await create(user.token, { platform, template: 'chromium-browser', tags: ['alpha'] })).body.id as string;
    const c = (await create(user.token, { platform, tags: ['dev'] })).body.id as string;
    await Promise.all([a, b, c].map((id) => waitState(app, user.token, id, 'running')));
    const list = async (query: string): Promise<string[]> => {
      const res = await call(app, 'GET', `${v1}/sessions?${query}`, user.token);
      t.is(res.status, 200, query);
      return (res.body.sessions as Array<{ id: string }>).map((s) => s.id);
    };
    t.deepEqual(await list('order=asc'), [a, b, c]);
    t.deepEqual(await list(''), [c, b, a], 'newest first by default');
    t.deepEqual(await list('tags=alpha,dev'), [a]);
    t.deepEqual(await list('tags=alpha&order=asc'), [a, b]);
    t.deepEqual(await list('template=chromium-browser'), [b]);
    t.deepEqual(await list(`platform=${platform}&agent_id=${platform}&order=asc`), [a, b, c]);
    t.deepEqual(await list('platform=nowhere'), []);
    const page = await call(app, 'GET', `${v1}/sessions?limit=2&page=2&order=asc`, user.token);
    t.deepEqual(page.body.pagination, { page: 2, limit: 2, total: 3, total_pages: 2 });
    t.deepEqual(
      (page.body.sessions as Array<{ id: string }>).map((s) => s.id),
      [c],
    );
    t.is((await call(app, 'GET', `${v1}/sessions?limit=500`, user.token)).body.pagination.limit, 100);
    t.is((await call(app, 'PATCH', `${v1}/sessions/${b}`, user.token, { state: 'hibernated' })).status, 200);
    t.deepEqual(await list('state=hibernated'), [b]);
    t.is((await list('sort=state&order=asc'))[0], b, "'hibernated' sorts before 'running'");
    t.is((await list('sort=state&order=desc'))[2], b);
    t.is((await call(app, 'DELETE', `${v1}/sessions/${c}?force=true`, user.token)).status, 204);
    t.deepEqual(await list('order=asc'), [a, b], 'terminated sessions are left out');
    t.deepEqual(await list('state=terminated'), [c]);
    t.is((await call(app, 'GET', `${v1}/sessions?sort=name`, user.token)).body.code, 'INVALID_PARAMETER');
    t.is((await call(app, 'GET', `${v1}/sessions?state=sleeping`, user.token)).body.code, 'INVALID_PARAMETER');
  });
});

test('placement: least-loaded online agent of the platform and region; draining and full agents are skipped', async (t) => {
  const platform = nextAgent();
  const one = await connectAgent(app, admin, { agentId: `${platform}-a`, platform, region: 'eu', maxSessions: 2 });
  const two = await connectAgent(app, admin, { agentId: `${platform}-b`, platform, region: 'eu', maxSessions: 2 });
  const three = await connectAgent(app, admin, { agentId: `${platform}-c`, platform, region: 'us', maxSessions: 5 });
  try {
    const user = await v1User(app, admin);
    const placed: string[] = [];
    for (let i = 0; i < 4; i += 1) placed.push((await create(user.token, { platform, region: 'eu' })).body.agent_id as string);
    t.deepEqual([...placed].sort(), [`${platform}-a`, `${platform}-a`, `${platform}-b`, `${platform}-b`], 'spread evenly, region kept');
    const full = await create(user.token, { platform, region: 'eu' });
    t.is(full.status, 503);
    t.is(full.body.code, 'AGENT_CAPACITY_EXCEEDED');
    t.is((await create(user.token, { platform })).body.agent_id, `${platform}-c`, 'without a region, any region with room');
    t.is((await call(app, 'PATCH', `${v1}/agents/${platform}-c`, admin.token, { status: 'draining' })).status, 200);
    const drained = await create(user.token, { platform, region: 'us' });
    t.is(drained.status, 503);
    t.is(drained.body.code, 'NO_AGENTS_AVAILABLE');
    t.regex(drained.body.message as string, /draining/);
  } finally {
    await Promise.all([one.stop(), two.stop(), three.stop()]);
  }
});

test('logs come from the agent with tail and timestamps; following is refused with a hint', async (t) => {
  await withAgent(app, admin, {}, async (agent, platform) => {
    const user = await v1User(app, admin);
    const id = (await create(user.token, { platform })).body.id as string;
    await waitState(app, user.token, id, 'running');
    const all = await call(app, 'GET', `${v1}/sessions/${id}/logs`, user.token);
    t.is(all.status, 200);
    t.true((all.body.logs as string[]).length >= 2);
    t.regex((all.body.logs as string[])[0] as string, /^\d{4}-\d\d-\d\dT/, 'timestamps by default');
    const one = await call(app, 'GET', `${v1}/sessions/${id}/logs?tail=1&timestamps=false`, user.token);
    t.is((one.body.logs as string[]).length, 1);
    t.notRegex((one.body.logs as string[])[0] as string, /^\d{4}-\d\d-\d\dT/);
    const follow = await call(app, 'GET', `${v1}/sessions/${id}/logs?follow=true`, user.token);
    t.is(follow.status, 400);
    t.is(follow.body.code, 'INVALID_PARAMETER');
  });
});

test.serial('idle sessions hibernate after idle_timeout without VNC activity; the reconciler moves a stuck session on', async (t) => {
  await withAgent(app, admin, {}, async (agent, platform) => {
    const user = await v1User(app, admin);
    const idle = (await create(user.token, { platform, idle_timeout: '1s' })).body.id as string;
    const busy = (await create(user.token, { platform, idle_timeout: '1h' })).body.id as string;
    await waitState(app, user.token, idle, 'running');
    await waitState(app, user.token, busy, 'running');
    await new Promise((r) => setTimeout(r, 1200));
    await runJob(app, 'streamspace.idle-hibernate');
    await waitState(app, user.token, idle, 'hibernated');
    t.is((await call(app, 'GET', `${v1}/sessions/${busy}`, user.token)).body.state, 'running');

    // A session left in `waking` with no command in flight (a crash between the two writes).
    await app.server.database
      .knex('streamspace_sessions')
      .where({ id: busy })
      .update({ state: 'waking', updated_at: app.server.database.knex.raw("now() - interval '1 hour'") });
    await runJob(app, 'streamspace.reconcile');
    const moved = await waitState(app, user.token, busy, 'hibernated');
    t.regex(moved.status.message as string, /Wake failed/);
  });
});

test('force-delete with the agent offline ends terminated at once, and the returning agent gets one stop, not a storm', async (t) => {
  await withAgent(app, admin, {}, async (agent, platform) => {
    const user = await v1User(app, admin);
    const id = (await create(user.token, { platform })).body.id as string;
    await waitState(app, user.token, id, 'running');
    agent.drop();
    await waitFor('offline', async () => (await call(app, 'GET', `${v1}/agents/${platform}`, admin.token)).body.status === 'offline');
    // A graceful delete and a hibernate queue commands for the agent's return; then the force.
    t.is((await call(app, 'DELETE', `${v1}/sessions/${id}`, user.token)).status, 204);
    t.is((await call(app, 'DELETE', `${v1}/sessions/${id}`, user.token)).body.code, 'SESSION_TERMINATING');
    const forced = await Promise.all([1, 2].map(() => call(app, 'DELETE', `${v1}/sessions/${id}?force=true`, user.token)));
    t.deepEqual(
      forced.map((r) => r.status),
      [204, 204],
      'two forces at once are both accepted',
    );
    t.is((await call(app, 'GET', `${v1}/sessions/${id}`, user.token)).body.state, 'terminated');
    t.is((await call(app, 'DELETE', `${v1}/sessions/${id}`, user.token)).status, 204, 'deleting a terminated session is a no-op');
    const before = agent.receivedCommands.length;
    await agent.reconnect();
    await waitFor('the stop to arrive', async () => agent.receivedCommands.length > before);
    await new Promise((r) => setTimeout(r, 500));
    const after = agent.receivedCommands.slice(before).filter((c) => c.session_id === id);
    t.deepEqual(
      after.map((c) => c.command_type),
      ['stop_session'],
    );
    t.is((after[0]?.data as { graceful?: boolean }).graceful, false);
    t.is((await call(app, 'GET', `${v1}/sessions/${id}`, user.token)).body.state, 'terminated');
  });
});

test('a failed start ends failed, never stuck pending; a session created hibernated starts hibernated', async (t) => {
  await withAgent(app, admin, { failCommands: ['start_session'] }, async (_agent, platform) => {
    const user = await v1User(app, admin);
    const id = (await create(user.token, { platform })).body.id as string;
    const failed = await waitState(app, user.token, id, 'failed');
    t.is(failed.status.phase, 'Failed');
    t.is(failed.status.error_code, 'SIMULATED_FAILURE');
  });
  await withAgent(app, admin, {}, async (_agent, platform) => {
    const user = await v1User(app, admin);
    const id = (await create(user.token, { platform, state: 'hibernated' })).body.id as string;
    await waitState(app, user.token, id, 'hibernated');
    t.is((await call(app, 'PATCH', `${v1}/sessions/${id}`, user.token, { state: 'running' })).body.state, 'running');
  });
});

test("a NUL in a body field or a query filter is refused in the seed's vocabulary, naming the field, before PostgreSQL sees it", async (t) => {
  const user = await v1User(app, admin);
  const created = await create(user.token, { user: 'a\u0000b' });
  t.is(created.status, 400);
  t.like(created.body, { code: 'VALIDATION_FAILED', details: { field: 'user' } });
  for (const [path, field] of [
    [`${v1}/sessions?tags=a%00b`, 'tags'],
    [`${v1}/templates?category=a%00b`, 'category'],
  ] as const) {
    const res = await call(app, 'GET', path, user.token);
    t.is(res.status, 400, path);
    t.like(res.body, { code: 'INVALID_PARAMETER', details: { field } });
  }
});

test('a forged or foreign token answers 401 even once the IP is past the session-create limit, with the limit headers', async (t) => {
  const limited = await startStreamspace({ rate_limits: { streamspace_session_create: { limit: 2, window_s: 3600 } } });
  try {
    const forged = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"sub":"x","role":"admin"}').toString('base64url')}.`;
    const portalToken = (
      (await (
        await limited.request('/api/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ login: 'admin', password: testAdminPassword }) })
      ).json()) as { access_token: string }
    ).access_token;
    for (let i = 1; i <= 5; i += 1) {
      const res = await call(limited, 'POST', `${v1}/sessions`, i % 2 === 0 ? portalToken : forged, { template: 'firefox-browser' });
      t.is(res.status, 401, `attempt ${i}`);
      t.is(res.body.code, 'AUTH_TOKEN_INVALID');
      t.regex(res.headers.get('X-RateLimit-Limit') ?? '', /^2$/);
    }
  } finally {
    await limited.close();
  }
});
