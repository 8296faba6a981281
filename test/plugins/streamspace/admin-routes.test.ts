import test from 'ava';
import { SimAgent } from '../../../scripts/lib/streamspace-sim-agent.ts';
import { bearer, loginAdmin } from '../../helpers/auth.ts';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { issueKey, openAgentSocket, registerMessage } from './raw-agent.ts';
import { call, connectAgent, v1, v1Login, waitFor, type V1Session } from './ss-helpers.ts';
import { assertError, startWithUser, unique, type Page } from './admin-helpers.ts';

/** Seed "User Management" and the addendum's agent keys, and the OpenAPI document of the contract (templates: admin-routes-templates.test.ts). */
interface V1UserView {
  id: string;
  username: string;
  email: string;
  role: string;
  active: boolean;
  created_at: string;
}

let app: TestApp;
let admin: V1Session;
let user: V1Session;

test.before(async () => {
  ({ app, admin, user } = await startWithUser());
});
test.after.always(() => app?.close());

async function createUser(role: 'user' | 'admin' = 'user'): Promise<V1UserView & { password: string }> {
  const username = unique('ss.ad');
  const password = `password-${username}`;
  const res = await call(app, 'POST', `${v1}/users`, admin.token, { username, email: `${username}@example.com`, password, role });
  if (res.status !== 201) throw new Error(`create user: ${res.status} ${JSON.stringify(res.body)}`);
  return { ...(res.body as V1UserView), password };
}

// --- Users ----------------------------------------------------------------

test('only admins list and create users: a non-admin gets 403, also when trying to create an admin', async (t) => {
  assertError(t, await call(app, 'GET', `${v1}/users`, user.token), 403, 'AUTH_INSUFFICIENT_PERMISSIONS');
  for (const role of ['user', 'admin']) {
    const username = unique('ss.no');
    assertError(t, await call(app, 'POST', `${v1}/users`, user.token, { username, email: `${username}@example.com`, password: 'long-enough-password', role }), 403, 'AUTH_INSUFFICIENT_PERMISSIONS');
  }
  t.is((await call(app, 'GET', `${v1}/users`, admin.token)).status, 200);
});

test('an admin creates a user (201, the user object) who can then log in at /api/v1/auth/login', async (t) => {
  const created = await createUser();
  t.like(created, { role: 'user', active: true, email: `${created.username}@example.com` });
  t.regex(created.id, /^[0-9a-f-]{36}$/);
  t.false(Number.isNaN(Date.parse(created.created_at)));
  const session = await v1Login(app, created.username, created.password);
  t.is(session.user.id, created.id);
  t.is((await call(app, 'GET', `${v1}/sessions`, session.token)).status, 200);
});

test('creating a user with a taken username answers 409', async (t) => {
  const first = await createUser();
  const res = await call(app, 'POST', `${v1}/users`, admin.token, { username: first.username, email: `other.${first.username}@example.com`, password: 'long-enough-password' });
  assertError(t, res, 409, 'USER_EXISTS');
});

test('the user list filters by role and pages (limit 20 by default, at most 100)', async (t) => {
  const mine = await createUser('admin');
  await createUser('user');
  const admins = await call(app, 'GET', `${v1}/users?role=admin&limit=100`, admin.token);
  t.true((admins.body.users as V1UserView[]).every((u) => u.role === 'admin'));
  t.true((admins.body.users as V1UserView[]).some((u) => u.id === mine.id));
  const users = await call(app, 'GET', `${v1}/users?role=user&limit=100`, admin.token);
  t.true((users.body.users as V1UserView[]).every((u) => u.role === 'user'));
  t.false((users.body.users as V1UserView[]).some((u) => u.id === mine.id));
  t.like((await call(app, 'GET', `${v1}/users`, admin.token)).body.pagination as Page, { page: 1, limit: 20 });
  t.is(((await call(app, 'GET', `${v1}/users?limit=500`, admin.token)).body.pagination as Page).limit, 100);
  const [one, two] = await Promise.all([1, 2].map((page) => call(app, 'GET', `${v1}/users?role=admin&limit=1&page=${page}`, admin.token)));
  const p = one?.body.pagination as Page;
  t.like(p, { page: 1, limit: 1 });
  t.true(p.total >= 2);
  t.is(p.total_pages, p.total);
  t.is(one?.body.users.length, 1);
  t.is(two?.body.users.length, 1);
  t.not(one?.body.users[0].id, two?.body.users[0].id);
});

test('a user disabled by the core admin is listed with active false', async (t) => {
  const created = await createUser();
  const portal = await loginAdmin(app);
  const patched = await app.request(
    `/api/admin/users/${created.id}`,
    bearer(portal.access_token, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ disabled: true }) }),
  );
  t.is(patched.status, 200);
  const listed = await waitFor('the user in the list', async () => {
    for (let page = 1; ; page += 1) {
      const res = await call(app, 'GET', `${v1}/users?role=user&limit=100&page=${page}`, admin.token);
      const hit = (res.body.users as V1UserView[]).find((u) => u.id === created.id);
      if (hit || page >= (res.body.pagination as Page).total_pages) return hit;
    }
  });
  t.false(listed.active);
});

// --- Agent keys -----------------------------------------------------------

test('an admin issues an agent key (201, shown once) that the agent connects with; a non-admin gets 403', async (t) => {
  const agentId = unique('ad-key-');
  assertError(t, await call(app, 'POST', `${v1}/admin/agent-keys`, user.token, { agent_id: agentId }), 403, 'AUTH_INSUFFICIENT_PERMISSIONS');
  const issued = await call(app, 'POST', `${v1}/admin/agent-keys`, admin.token, { agent_id: agentId });
  t.is(issued.status, 201);
  t.is(issued.body.agent_id, agentId);
  t.true(typeof issued.body.key === 'string' && issued.body.key.length >= 20);
  t.false(Number.isNaN(Date.parse(issued.body.created_at as string)));
  const agent = new SimAgent({ url: app.url, agentId, key: issued.body.key as string, commandDelayMs: 20 });
  try {
    await agent.start();
    t.true(agent.registered);
  } finally {
    await agent.stop();
  }
});

test("re-issuing a key rotates it: the old key, or another agent's key, is refused at /agent/ws with HTTP 401", async (t) => {
  const agentId = unique('ad-rot-');
  const issue = async (): Promise<string> => (await call(app, 'POST', `${v1}/admin/agent-keys`, admin.token, { agent_id: agentId })).body.key as string;
  const oldKey = await issue();
  const newKey = await issue();
  t.not(oldKey, newKey);
  const agents = [
    new SimAgent({ url: app.url, agentId, key: oldKey }),
    new SimAgent({ url: app.url, agentId: unique('ad-other-'), key: newKey }),
    new SimAgent({ url: app.url, agentId, key: newKey }),
  ];
  try {
    await t.throwsAsync(agents[0]!.start(), { message: /HTTP 401/ });
    await t.throwsAsync(agents[1]!.start(), { message: /HTTP 401/ });
    await agents[2]!.start();
    t.true(agents[2]!.registered);
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
  }
});

test('rotating a key closes a connection still on the old one, and a socket that opened with a key revoked before it registered cannot register', async (t) => {
  const agentId = unique('ad-rot2-');
  const agent = await connectAgent(app, admin, { agentId });
  try {
    t.is((await call(app, 'POST', `${v1}/admin/agent-keys`, admin.token, { agent_id: agentId })).status, 201);
    await waitFor('the old-key connection to close', async () => !agent.registered);
  } finally {
    await agent.stop();
  }
  const lateId = unique('ad-late-');
  const key = await issueKey(app, admin, lateId);
  const socket = await openAgentSocket(app, lateId, 'docker', { Authorization: `Bearer ${key}` });
  if (!('ws' in socket)) throw new Error(`upgrade refused: ${socket.status}`);
  t.is((await call(app, 'DELETE', `${v1}/admin/agent-keys/${lateId}`, admin.token)).status, 204);
  socket.send(registerMessage(lateId, 'docker'));
  t.is((await socket.closed).code, 4401);
  t.is((await call(app, 'GET', `${v1}/agents/${lateId}`, admin.token)).status, 404, 'never registered');
});

test("revoking a key (204) closes the connected agent's socket, shows it offline and refuses the key afterwards", async (t) => {
  const agentId = unique('ad-rev-');
  const agent = await connectAgent(app, admin, { agentId });
  try {
    const revoked = await call(app, 'DELETE', `${v1}/admin/agent-keys/${agentId}`, admin.token);
    t.is(revoked.status, 204, JSON.stringify(revoked.body));
    await waitFor('the agent socket to close', async () => !agent.registered);
    await waitFor('the agent to show offline', async () => (await call(app, 'GET', `${v1}/agents/${agentId}`, admin.token)).body?.status === 'offline');
    await t.throwsAsync(agent.reconnect(), { message: /HTTP 401/ });
  } finally {
    await agent.stop();
  }
});

// --- OpenAPI --------------------------------------------------------------

test('GET /openapi.json documents every /api/v1 route of the contract with a summary', async (t) => {
  const doc = (await (await app.request('/openapi.json')).json()) as { paths: Record<string, Record<string, { summary?: unknown }>> };
  const expected = [
    'post /auth/login',
    'post /auth/logout',
    'get /users',
    'post /users',
    'get /agents',
    'get /agents/stats',
    'get /agents/{}',
    'patch /agents/{}',
    'post /admin/agent-keys',
    'delete /admin/agent-keys/{}',
    'get /sessions',
    'post /sessions',
    'get /sessions/{}',
    'patch /sessions/{}',
    'delete /sessions/{}',
    'get /sessions/{}/logs',
    'get /sessions/{}/vnc-token',
    'get /sessions/{}/commands',
    'get /templates',
    'post /templates',
    'get /templates/{}',
    'patch /templates/{}',
    'delete /templates/{}',
  ];
  const documented = new Map<string, unknown>();
  for (const [path, ops] of Object.entries(doc.paths)) {
    if (!path.startsWith(`${v1}/`)) continue;
    for (const [method, op] of Object.entries(ops)) documented.set(`${method} ${path.slice(v1.length).replace(/\{[^}]+\}/g, '{}')}`, op.summary);
  }
  for (const route of expected) t.true(documented.has(route), `${route} is documented`);
  for (const [route, summary] of documented) t.true(typeof summary === 'string' && summary.length > 0, `${route} has a summary`);
});
