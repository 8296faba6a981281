import test from 'ava';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-database.ts';
import { call, connectAgent, startStreamspace, v1, v1Admin, v1User, waitFor, waitState, type V1Session } from './ss-helpers.ts';
import { SimAgent } from '../../../scripts/lib/streamspace-sim-agent.ts';
import { handshake, openViewer } from './vnc-viewer.ts';

/**
 * Two replicas on one PostgreSQL: an agent holds a socket to one, clients talk to the other.
 * Commands and replacements cross by events. On the embedded database only one process may
 * open it, so both names point at the same app there.
 */
let db: TestDatabase;
let holder: TestApp;
let other: TestApp;
let admin: V1Session;

test.before(async () => {
  db = await createTestDatabase();
  holder = await startStreamspace({}, {}, db);
  other = db.database.engine === 'postgres' ? await startStreamspace({}, {}, db) : holder;
  admin = await v1Admin(holder);
});

test.after.always(async () => {
  if (other !== holder) await other?.close();
  await holder?.close();
  await db?.drop();
});

test('a session created and changed through another replica reaches the agent held by the first', async (t) => {
  const agent = await connectAgent(holder, admin, { agentId: 'replica-agent-1', platform: 'replica-1' });
  try {
    const user = await v1User(other, admin);
    const created = await call(other, 'POST', `${v1}/sessions`, user.token, { template: 'firefox-browser', platform: 'replica-1' });
    t.is(created.status, 202);
    await waitState(other, user.token, created.body.id as string, 'running');
    const hibernated = await call(other, 'PATCH', `${v1}/sessions/${created.body.id as string}`, user.token, { state: 'hibernated' });
    t.is(hibernated.status, 200);
    t.is(hibernated.body.state, 'hibernated');
  } finally {
    await agent.stop();
  }
});

test('a second connection on another replica replaces the first, whose late close leaves the agent online', async (t) => {
  const first = await connectAgent(holder, admin, { agentId: 'replica-agent-2', platform: 'replica-2' });
  // Rotating the key leaves the open connection alone; the newcomer uses the new key on the other replica.
  const rotated = await call(other, 'POST', `${v1}/admin/agent-keys`, admin.token, { agent_id: 'replica-agent-2' });
  t.is(rotated.status, 201);
  t.true(first.registered, 'rotation does not cut the connected agent');
  const second = new SimAgent({ url: other.url, agentId: 'replica-agent-2', key: rotated.body.key as string, platform: 'replica-2' });
  try {
    await second.start();
    await waitFor('the first connection to be closed', async () => !first.registered);
    await new Promise((r) => setTimeout(r, 300));
    const agent = await call(other, 'GET', `${v1}/agents/replica-agent-2`, admin.token);
    t.is(agent.body.status, 'online');
    const user = await v1User(other, admin);
    const created = await call(holder, 'POST', `${v1}/sessions`, user.token, { template: 'firefox-browser', platform: 'replica-2' });
    await waitState(holder, user.token, created.body.id as string, 'running');
    t.true(second.sessions.has(created.body.id as string), 'the command went to the connection that replaced the first');
  } finally {
    await first.stop();
    await second.stop();
  }
});

test('a viewer relayed through another replica closes with 4403 when its login logs out there, and its VNC token opened it once', async (t) => {
  const agent = await connectAgent(holder, admin, { agentId: 'replica-agent-3', platform: 'replica-3' });
  try {
    const user = await v1User(other, admin);
    const created = await call(holder, 'POST', `${v1}/sessions`, user.token, { template: 'firefox-browser', platform: 'replica-3' });
    const id = created.body.id as string;
    await waitState(holder, user.token, id, 'running');
    const vncToken = (await call(other, 'GET', `${v1}/sessions/${id}/vnc-token`, user.token)).body.token as string;
    const viewer = await openViewer(other.url, id, vncToken);
    await handshake(viewer);
    await t.throwsAsync(openViewer(holder.url, id, vncToken), { message: 'HTTP 401 AUTH_TOKEN_INVALID' }, 'a VNC token is spent on whichever replica redeemed it');
    t.is((await call(other, 'POST', `${v1}/auth/logout`, user.token)).status, 200);
    t.is((await viewer.closed).code, 4403);
  } finally {
    await agent.stop();
  }
});
