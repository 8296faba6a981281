import test from 'ava';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-database.ts';
import type { SimAgent } from '../../../scripts/lib/streamspace-sim-agent.ts';
import { call, connectAgent, startStreamspace, v1, v1Admin, v1User, waitFor, waitState, type V1Session } from './ss-helpers.ts';
import { openViewer, type Viewer } from './vnc-viewer.ts';

/**
 * VNC viewer caps across two replicas on one PostgreSQL: per session and per user, counted in
 * the database. A viewer is relayed by the replica that holds its session's agent, so each
 * replica here holds one agent and its sessions. On the embedded database only one process may
 * open it, so both names point at the same app there.
 */
let db: TestDatabase;
let holder: TestApp;
let other: TestApp;
let admin: V1Session;
const agents: SimAgent[] = [];

const caps = { max_viewers_per_session: 2, max_viewers_per_user: 3 };

test.before(async () => {
  db = await createTestDatabase();
  holder = await startStreamspace({}, { vnc: caps }, db);
  other = db.database.engine === 'postgres' ? await startStreamspace({}, { vnc: caps }, db) : holder;
  admin = await v1Admin(holder);
  agents.push(await connectAgent(holder, admin, { agentId: 'caps-agent-1', platform: 'caps-1' }));
  agents.push(await connectAgent(other, admin, { agentId: 'caps-agent-2', platform: 'caps-2' }));
});

test.after.always(async () => {
  for (const agent of agents) await agent.stop();
  if (other !== holder) await other?.close();
  await holder?.close();
  await db?.drop();
});

async function runningSession(app: TestApp, user: V1Session, platform: string): Promise<string> {
  const created = await call(app, 'POST', `${v1}/sessions`, user.token, { template: 'firefox-browser', platform });
  if (created.status !== 202) throw new Error(`create: ${created.status} ${JSON.stringify(created.body)}`);
  await waitState(app, user.token, created.body.id as string, 'running');
  return created.body.id as string;
}

async function slotRows(key: string): Promise<number> {
  const [row] = await db.database.knex('socket_slots').where({ key }).count<Array<{ n: string | number }>>('* as n');
  return Number(row?.n);
}

async function closeAll(viewers: Viewer[], user: V1Session): Promise<void> {
  for (const v of viewers) v.ws.close();
  await Promise.all(viewers.map((v) => v.closed));
  await waitFor('every viewer slot of the user to be freed', async () => (await slotRows(`streamspace:vnc-user:${user.user.id}`)) === 0);
}

test.serial('a session takes at most max_viewers_per_session viewers; the next is refused with 429 VNC_VIEWER_LIMIT, and a closed viewer frees its place', async (t) => {
  const user = await v1User(holder, admin);
  const id = await runningSession(holder, user, 'caps-1');
  const open = [await openViewer(holder.url, id, user.token), await openViewer(holder.url, id, user.token)];
  await t.throwsAsync(openViewer(holder.url, id, user.token), { message: 'HTTP 429 VNC_VIEWER_LIMIT' });
  const gone = open.shift() as Viewer;
  gone.ws.close();
  await gone.closed;
  await waitFor("the closed viewer's slot to be freed", async () => (await slotRows(`streamspace:vnc-session:${id}`)) === 1);
  open.push(await openViewer(holder.url, id, user.token));
  await closeAll(open, user);
});

test.serial("a user's viewers of sessions relayed by both replicas count against one per-user cap (429 VNC_USER_VIEWER_LIMIT)", async (t) => {
  const user = await v1User(holder, admin);
  const onHolder = await runningSession(holder, user, 'caps-1');
  const onOther = await runningSession(other, user, 'caps-2');
  const open = [await openViewer(holder.url, onHolder, user.token), await openViewer(other.url, onOther, user.token), await openViewer(holder.url, onHolder, user.token)];
  // The session relayed by the other replica has room (one of two), the user has none (three of three).
  await t.throwsAsync(openViewer(other.url, onOther, user.token), { message: 'HTTP 429 VNC_USER_VIEWER_LIMIT' });
  t.is(await slotRows(`streamspace:vnc-session:${onOther}`), 1, "the refused viewer took no place under the session's cap");
  await closeAll(open, user);
});

test.serial("viewers opened all at once never pass the session's cap", async (t) => {
  const user = await v1User(holder, admin);
  const id = await runningSession(holder, user, 'caps-1');
  const results = await Promise.allSettled(Array.from({ length: 6 }, () => openViewer(holder.url, id, user.token)));
  const open = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  t.is(open.length, caps.max_viewers_per_session);
  for (const r of results) if (r.status === 'rejected') t.is((r.reason as Error).message, 'HTTP 429 VNC_VIEWER_LIMIT');
  await closeAll(open, user);
});
