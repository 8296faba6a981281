import test, { type ExecutionContext } from 'ava';
import { readFileSync } from 'node:fs';
import { SimAgent } from '../../../scripts/lib/streamspace-sim-agent.ts';
import { bearer, loginAdmin } from '../../helpers/auth.ts';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { issueKey, openAgentSocket, registerMessage } from './raw-agent.ts';
import { call, connectAgent, startStreamspace, v1, v1Admin, v1Login, v1User, waitFor, waitState, type V1Session } from './ss-helpers.ts';

/** Seed "User Management" / "Template Management" and the addendum's agent keys and template administration. */
type Answer = Awaited<ReturnType<typeof call>>;
interface V1UserView {
  id: string;
  username: string;
  email: string;
  role: string;
  active: boolean;
  created_at: string;
}
interface TemplateView {
  name: string;
  category: string;
  display_name: string;
  base_image: string;
  description: string;
  vnc: { enabled: boolean; port: number };
  default_resources: Record<string, string>;
  tags: string[];
}
interface Page {
  page: number;
  limit: number;
  total: number;
  total_pages: number;
}

const shipped = JSON.parse(readFileSync(new URL('../../../config/streamspace-templates.json', import.meta.url), 'utf8')) as TemplateView[];

let app: TestApp;
let admin: V1Session;
let user: V1Session;

test.before(async () => {
  app = await startStreamspace();
  admin = await v1Admin(app);
  user = await v1User(app, admin);
});

test.after.always(async () => {
  await app?.close();
});

function assertError(t: ExecutionContext, res: Answer, status: number, code: string): void {
  t.is(res.status, status, JSON.stringify(res.body));
  t.is(res.body?.code, code, JSON.stringify(res.body));
  for (const key of ['error', 'message', 'timestamp', 'request_id']) t.is(typeof res.body?.[key], 'string', `envelope field '${key}'`);
}

let n = 0;
const unique = (prefix: string): string => `${prefix}${process.pid}x${(n += 1)}`;

async function createUser(role: 'user' | 'admin' = 'user'): Promise<V1UserView & { password: string }> {
  const username = unique('ss.ad');
  const password = `password-${username}`;
  const res = await call(app, 'POST', `${v1}/users`, admin.token, { username, email: `${username}@example.com`, password, role });
  if (res.status !== 201) throw new Error(`create user: ${res.status} ${JSON.stringify(res.body)}`);
  return { ...(res.body as V1UserView), password };
}

// Names start with "zz-" so they sort after the shipped templates and never shift their pages.
const newTemplate = (name: string): Record<string, unknown> => ({
  name,
  display_name: 'Test Desktop',
  category: `Tests ${name}`,
  description: 'made by admin-routes.test.ts',
  base_image: 'example/desktop:1',
  default_resources: { memory: '1Gi', cpu: '500m' },
  vnc: { enabled: true, port: 5900 },
  tags: ['test'],
});

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

// --- Templates ------------------------------------------------------------

test('the shipped templates are listed, 50 per page by default', async (t) => {
  const res = await call(app, 'GET', `${v1}/templates`, user.token);
  t.is(res.status, 200);
  t.like(res.body.pagination as Page, { page: 1, limit: 50 });
  const names = (res.body.templates as TemplateView[]).map((x) => x.name);
  for (const s of shipped) t.true(names.includes(s.name), s.name);
});

test('a template list limit above 100 is clamped to 100, and pages split the list', async (t) => {
  t.is(((await call(app, 'GET', `${v1}/templates?limit=500`, user.token)).body.pagination as Page).limit, 100);
  const one = await call(app, 'GET', `${v1}/templates?limit=1&page=1`, user.token);
  const two = await call(app, 'GET', `${v1}/templates?limit=1&page=2`, user.token);
  t.like(one.body.pagination as Page, { page: 1, limit: 1 });
  t.is((one.body.pagination as Page).total_pages, (one.body.pagination as Page).total);
  t.is(one.body.templates.length, 1);
  t.is(two.body.templates.length, 1);
  t.not(one.body.templates[0].name, two.body.templates[0].name);
});

test('the category filter lists only templates of that category', async (t) => {
  const res = await call(app, 'GET', `${v1}/templates?category=${encodeURIComponent('Web Browsers')}`, user.token);
  const templates = res.body.templates as TemplateView[];
  t.true(templates.every((x) => x.category === 'Web Browsers'));
  const expected = shipped.filter((s) => s.category === 'Web Browsers').map((s) => s.name);
  t.deepEqual(
    templates
      .map((x) => x.name)
      .filter((name) => expected.includes(name))
      .sort(),
    [...expected].sort(),
  );
  t.is((res.body.pagination as Page).total, templates.length);
});

test('a template is read by name, as configured', async (t) => {
  const firefox = shipped.find((s) => s.name === 'firefox-browser') as TemplateView;
  const res = await call(app, 'GET', `${v1}/templates/firefox-browser`, user.token);
  t.is(res.status, 200);
  t.like(res.body as TemplateView, {
    name: firefox.name,
    display_name: firefox.display_name,
    category: firefox.category,
    base_image: firefox.base_image,
    vnc: firefox.vnc,
    default_resources: firefox.default_resources,
    tags: firefox.tags,
  });
});

test('an admin creates (201), changes only the named fields (PATCH) and deletes (204) a template', async (t) => {
  const name = unique('zz-crud-');
  const created = await call(app, 'POST', `${v1}/templates`, admin.token, newTemplate(name));
  t.is(created.status, 201, JSON.stringify(created.body));
  t.like(created.body as TemplateView, { name, display_name: 'Test Desktop', base_image: 'example/desktop:1', vnc: { enabled: true, port: 5900 } });
  const patched = await call(app, 'PATCH', `${v1}/templates/${name}`, admin.token, { display_name: 'Renamed', vnc: { enabled: true, port: 5901 } });
  t.is(patched.status, 200, JSON.stringify(patched.body));
  const read = await call(app, 'GET', `${v1}/templates/${name}`, user.token);
  t.like(read.body as TemplateView, { display_name: 'Renamed', vnc: { enabled: true, port: 5901 } });
  const { display_name: _a, vnc: _b, updated_at: _c, ...untouched } = created.body as Record<string, unknown>;
  t.like(read.body as Record<string, unknown>, untouched, 'every field not named is unchanged');
  t.is((await call(app, 'DELETE', `${v1}/templates/${name}`, admin.token)).status, 204);
  assertError(t, await call(app, 'GET', `${v1}/templates/${name}`, user.token), 404, 'TEMPLATE_NOT_FOUND');
});

test('a non-admin cannot create, change or delete templates (403)', async (t) => {
  assertError(t, await call(app, 'POST', `${v1}/templates`, user.token, newTemplate(unique('zz-no-'))), 403, 'AUTH_INSUFFICIENT_PERMISSIONS');
  assertError(t, await call(app, 'PATCH', `${v1}/templates/firefox-browser`, user.token, { display_name: 'Mine now' }), 403, 'AUTH_INSUFFICIENT_PERMISSIONS');
  assertError(t, await call(app, 'DELETE', `${v1}/templates/firefox-browser`, user.token), 403, 'AUTH_INSUFFICIENT_PERMISSIONS');
  const firefox = await call(app, 'GET', `${v1}/templates/firefox-browser`, user.token);
  t.is(firefox.body.display_name, 'Firefox Web Browser');
});

test('a template used by a live session cannot be deleted: 409 TEMPLATE_IN_USE, and can once the session ended', async (t) => {
  const name = unique('zz-used-');
  t.is((await call(app, 'POST', `${v1}/templates`, admin.token, newTemplate(name))).status, 201);
  const agentId = unique('ad-inuse-');
  const agent = await connectAgent(app, admin, { agentId, region: agentId });
  try {
    const session = await call(app, 'POST', `${v1}/sessions`, user.token, { template: name, region: agentId });
    t.is(session.status, 202, JSON.stringify(session.body));
    assertError(t, await call(app, 'DELETE', `${v1}/templates/${name}`, admin.token), 409, 'TEMPLATE_IN_USE');
    t.is((await call(app, 'GET', `${v1}/templates/${name}`, user.token)).status, 200, 'still there');
    await waitState(app, user.token, session.body.id as string, 'running');
    t.is((await call(app, 'DELETE', `${v1}/sessions/${session.body.id as string}`, user.token)).status, 204);
    await waitState(app, user.token, session.body.id as string, 'terminated');
    t.is((await call(app, 'DELETE', `${v1}/templates/${name}`, admin.token)).status, 204);
  } finally {
    await agent.stop();
  }
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
