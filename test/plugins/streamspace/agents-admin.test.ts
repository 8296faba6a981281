import test from 'ava';
import type { SimAgent } from '../../../scripts/lib/streamspace-sim-agent.ts';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { getAgent, uniq, waitAgent } from './raw-agent.ts';
import { call, connectAgent, startStreamspace, v1, v1Admin, v1User, waitFor, waitState, type V1Session } from './ss-helpers.ts';

/** Seed "Agent Management" with the addendum: admin-only list, detail, drain and stats. */
let app: TestApp;
let admin: V1Session;
/** Only the stats test's agents, so its counts are exact. Started up front: starting an app blocks the event loop long enough to make in-process agents miss heartbeats. */
let statsApp: TestApp;

test.before(async () => {
  [app, statsApp] = await Promise.all([startStreamspace(), startStreamspace()]);
  admin = await v1Admin(app);
});

test.after.always(async () => {
  await Promise.all([app?.close(), statsApp?.close()]);
});

async function stopAll(agents: SimAgent[]): Promise<void> {
  await Promise.all(agents.map((a) => a.stop()));
}

interface ListedAgent {
  agent_id: string;
  platform: string;
  region: string | null;
  status: string;
}

async function list(query: string): Promise<{ agents: ListedAgent[]; pagination: { page: number; limit: number; total: number; total_pages: number } }> {
  const res = await call(app, 'GET', `${v1}/agents?${query}`, admin.token);
  if (res.status !== 200) throw new Error(`GET /agents?${query}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

const ids = (agents: ListedAgent[]): string[] => agents.map((a) => a.agent_id).sort();

test('GET /agents filters by platform, status and region, and pages with a pagination object', async (t) => {
  const platform = uniq('plat');
  const [r1, r2] = [uniq('region'), uniq('region')];
  const agentIds = [uniq('list'), uniq('list'), uniq('list')];
  const agents = [
    await connectAgent(app, admin, { agentId: agentIds[0] as string, platform, region: r1 }),
    await connectAgent(app, admin, { agentId: agentIds[1] as string, platform, region: r1 }),
    await connectAgent(app, admin, { agentId: agentIds[2] as string, platform, region: r2 }),
  ];
  try {
    await (agents[2] as SimAgent).stop();
    await waitAgent(app, admin, agentIds[2] as string, (a) => a.status === 'offline', 'offline');

    const all = await list(`platform=${platform}`);
    t.deepEqual(ids(all.agents), [...agentIds].sort());
    t.like(all.pagination, { page: 1, limit: 20, total: 3, total_pages: 1 });
    t.true(all.agents.every((a) => a.platform === platform));

    t.deepEqual(ids((await list(`platform=${platform}&status=online`)).agents), agentIds.slice(0, 2).sort());
    t.deepEqual(ids((await list(`platform=${platform}&status=offline`)).agents), [agentIds[2]]);
    t.deepEqual(ids((await list(`platform=${platform}&region=${r1}`)).agents), agentIds.slice(0, 2).sort());
    t.deepEqual(ids((await list(`region=${r2}&status=online`)).agents), []);

    const page1 = await list(`platform=${platform}&limit=2&page=1`);
    const page2 = await list(`platform=${platform}&limit=2&page=2`);
    t.is(page1.agents.length, 2);
    t.is(page2.agents.length, 1);
    t.deepEqual(page2.pagination, { page: 2, limit: 2, total: 3, total_pages: 2 });
    t.deepEqual(ids([...page1.agents, ...page2.agents]), [...agentIds].sort(), 'the pages together hold every agent once');
  } finally {
    await stopAll(agents);
  }
});

test('GET /agents/:id shows the agent with its sessions and uptime_seconds', async (t) => {
  const user = await v1User(app, admin);
  const platform = uniq('detail');
  const agentId = uniq('detail');
  const agent = await connectAgent(app, admin, { agentId, platform, region: 'eu-west-1' });
  try {
    const created = await call(app, 'POST', `${v1}/sessions`, user.token, { template: 'firefox-browser', platform });
    t.is(created.status, 202);
    await waitState(app, user.token, created.body.id, 'running');
    const res = await call(app, 'GET', `${v1}/agents/${agentId}`, admin.token);
    t.is(res.status, 200);
    t.like(res.body, { agent_id: agentId, platform, region: 'eu-west-1', status: 'online' });
    t.is(typeof res.body.uptime_seconds, 'number');
    t.true(res.body.uptime_seconds >= 0);
    t.deepEqual(res.body.sessions, [{ id: created.body.id, name: created.body.name, user: user.user.username, template: 'firefox-browser', state: 'running' }]);
  } finally {
    await agent.stop();
  }
});

test('draining survives heartbeats and a reconnect, keeps new sessions away, and PATCH online brings it back', async (t) => {
  const user = await v1User(app, admin);
  const platform = uniq('drain');
  // "a-" sorts first, so placement would pick it were it not draining.
  const [drainId, otherId] = [`a-${uniq('drain')}`, `b-${uniq('drain')}`];
  const drained = await connectAgent(app, admin, { agentId: drainId, platform });
  const other = await connectAgent(app, admin, { agentId: otherId, platform });
  try {
    const patched = await call(app, 'PATCH', `${v1}/agents/${drainId}`, admin.token, { status: 'draining' });
    t.is(patched.status, 200);
    t.like(patched.body, { agent_id: drainId, status: 'draining' });
    t.truthy(patched.body.id);
    t.truthy(patched.body.updated_at);

    const hb = (await getAgent(app, admin, drainId)).last_heartbeat;
    await waitAgent(app, admin, drainId, (a) => a.last_heartbeat !== hb, 'a later heartbeat');
    t.is((await getAgent(app, admin, drainId)).status, 'draining', 'after a heartbeat');
    drained.drop();
    await drained.reconnect();
    t.is((await getAgent(app, admin, drainId)).status, 'draining', 'after a reconnect');

    for (let i = 0; i < 2; i += 1) {
      const created = await call(app, 'POST', `${v1}/sessions`, user.token, { template: 'firefox-browser', platform });
      t.is(created.status, 202);
      t.is(created.body.agent_id, otherId, 'not placed on the draining agent');
    }
    await other.stop();
    await waitAgent(app, admin, otherId, (a) => a.status === 'offline', 'offline');
    const refused = await call(app, 'POST', `${v1}/sessions`, user.token, { template: 'firefox-browser', platform });
    t.is(refused.status, 503);
    t.is(refused.body.code, 'NO_AGENTS_AVAILABLE');

    const back = await call(app, 'PATCH', `${v1}/agents/${drainId}`, admin.token, { status: 'online' });
    t.is(back.status, 200);
    t.is(back.body.status, 'online');
    t.is((await getAgent(app, admin, drainId)).status, 'online');
    const placed = await call(app, 'POST', `${v1}/sessions`, user.token, { template: 'firefox-browser', platform });
    t.is(placed.status, 202);
    t.is(placed.body.agent_id, drainId);
  } finally {
    await stopAll([drained, other]);
  }
});

test('PATCH status offline is refused with 400, and an unknown agent is 404 AGENT_NOT_FOUND', async (t) => {
  const agentId = uniq('patch');
  const agent = await connectAgent(app, admin, { agentId });
  try {
    const offline = await call(app, 'PATCH', `${v1}/agents/${agentId}`, admin.token, { status: 'offline' });
    t.is(offline.status, 400);
    t.is((await getAgent(app, admin, agentId)).status, 'online');
    const unknown = uniq('nobody');
    for (const [method, body] of [
      ['GET', undefined],
      ['PATCH', { status: 'draining' }],
    ] as const) {
      const res = await call(app, method, `${v1}/agents/${unknown}`, admin.token, body);
      t.is(res.status, 404, method);
      t.is(res.body.code, 'AGENT_NOT_FOUND', method);
    }
  } finally {
    await agent.stop();
  }
});

test('a non-admin gets 403 AUTH_INSUFFICIENT_PERMISSIONS on every agent route', async (t) => {
  const user = await v1User(app, admin);
  const agentId = uniq('guarded');
  const agent = await connectAgent(app, admin, { agentId });
  try {
    const routes: Array<[string, string, unknown?]> = [
      ['GET', `${v1}/agents`],
      ['GET', `${v1}/agents/stats`],
      ['GET', `${v1}/agents/${agentId}`],
      ['PATCH', `${v1}/agents/${agentId}`, { status: 'draining' }],
      ['POST', `${v1}/admin/agent-keys`, { agent_id: uniq('stolen') }],
      ['DELETE', `${v1}/admin/agent-keys/${agentId}`],
    ];
    for (const [method, path, body] of routes) {
      const res = await call(app, method, path, user.token, body);
      t.is(res.status, 403, `${method} ${path}`);
      t.is(res.body?.code, 'AUTH_INSUFFICIENT_PERMISSIONS', `${method} ${path}`);
    }
    t.is((await getAgent(app, admin, agentId)).status, 'online', 'nothing changed');
  } finally {
    await agent.stop();
  }
});

test('GET /agents/stats counts by status and platform; capacity totals leave offline agents out', async (t) => {
  const agents: SimAgent[] = [];
  try {
    const root = await v1Admin(statsApp);
    const user = await v1User(statsApp, root);
    agents.push(await connectAgent(statsApp, root, { agentId: 'x-online', platform: 'px', maxSessions: 10 }));
    agents.push(await connectAgent(statsApp, root, { agentId: 'y-online', platform: 'py', maxSessions: 5 }));
    agents.push(await connectAgent(statsApp, root, { agentId: 'x-draining', platform: 'px', maxSessions: 4 }));
    const gone = await connectAgent(statsApp, root, { agentId: 'y-offline', platform: 'py', maxSessions: 7 });
    agents.push(gone);
    t.is((await call(statsApp, 'PATCH', `${v1}/agents/x-draining`, root.token, { status: 'draining' })).status, 200);
    await gone.stop();
    const created = await call(statsApp, 'POST', `${v1}/sessions`, user.token, { template: 'firefox-browser', platform: 'px' });
    await waitState(statsApp, user.token, created.body.id, 'running');

    const stats = await waitFor('the running session in the heartbeats', async () => {
      const res = await call(statsApp, 'GET', `${v1}/agents/stats`, root.token);
      return res.status === 200 && res.body.total_capacity.current_sessions === 1 && res.body.offline_agents === 1 ? res.body : null;
    });
    t.like(stats, { total_agents: 4, online_agents: 2, offline_agents: 1, draining_agents: 1, by_platform: { px: 2, py: 2 } });
    t.deepEqual(stats.total_capacity, { max_sessions: 19, current_sessions: 1 }, '10 + 5 + 4 (draining counts), not the offline 7');
    t.is(stats.utilization.sessions_available, 18);
    t.true(Math.abs(stats.utilization.percentage - 100 / 19) < 0.1, `percentage ${stats.utilization.percentage}`);
  } finally {
    await stopAll(agents);
  }
});
