import { createHash, randomBytes } from 'node:crypto';
import test from 'ava';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-database.ts';
import { startSwitchableProxy, type SwitchableProxy } from '../../helpers/switchable-proxy.ts';
import { call, connectAgent, startStreamspace, v1, v1Admin, v1User, waitFor, waitState, type V1Session } from './ss-helpers.ts';
import { handshake, isPattern, openViewer, pump, rfbVersion } from './vnc-viewer.ts';

/**
 * Three replicas in this process on one database (on PGlite too: they share the one
 * instance). The agent's socket is on `holder`; viewers reach `entry`, which relays them over
 * an internal WebSocket. Sessions are created on the holder, so nothing here depends on
 * events crossing replicas (replicas.test.ts covers those on PostgreSQL).
 */
let db: TestDatabase;
let holder: TestApp;
let entry: TestApp;
let spare: TestApp;
/** The holder's internal address, as the other replicas see it: cutting it is the holder vanishing. */
let holderPath: SwitchableProxy;
/** The load balancer the agent reaches the replicas through. */
let agentPath: SwitchableProxy;
let admin: V1Session;

test.before(async () => {
  db = await createTestDatabase();
  holderPath = await startSwitchableProxy('http://127.0.0.1:1');
  holder = await startStreamspace({ cluster: { internal_url: holderPath.url } }, {}, db);
  holderPath.retarget(holder.url);
  entry = await startStreamspace({}, {}, db);
  spare = await startStreamspace({}, {}, db);
  agentPath = await startSwitchableProxy(holder.url);
  admin = await v1Admin(holder);
});

test.after.always(async () => {
  for (const app of [spare, entry, holder]) await app?.close().catch(() => undefined);
  await holderPath?.close();
  await agentPath?.close();
  await db?.drop();
});

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function runningSession(app: TestApp, token: string, platform: string): Promise<string> {
  const created = await call(app, 'POST', `${v1}/sessions`, token, { template: 'firefox-browser', platform });
  if (created.status !== 202) throw new Error(`create: ${created.status} ${JSON.stringify(created.body)}`);
  await waitState(app, token, created.body.id as string, 'running');
  return created.body.id as string;
}

test.serial('a viewer on another replica is relayed to the one holding the agent: every byte both ways, past the window, as binary', async (t) => {
  const agent = await connectAgent(holder, admin, { agentId: 'relay-agent-1', platform: 'relay-1' });
  try {
    const user = await v1User(holder, admin);
    const id = await runningSession(holder, user.token, 'relay-1');
    const viewer = await openViewer(entry.url, id, user.token);
    await handshake(viewer);
    const payload = randomBytes(4 * 1024 * 1024);
    await pump(viewer, payload);
    const got = await viewer.waitBytes(rfbVersion.length + payload.length, 30_000);
    t.is(got.length, rfbVersion.length + payload.length);
    t.is(sha(got.subarray(rfbVersion.length)), sha(payload));
    t.true(viewer.allBinary());
    viewer.ws.close();
    // The stream on the holder ends with the viewer: the agent's VNC connection closes (its log says so).
    const ended = await waitFor('the agent to see the relayed viewer go', async () => {
      const logs = await call(entry, 'GET', `${v1}/sessions/${id}/logs?tail=50&timestamps=false`, user.token);
      return (logs.body.logs as string[]).some((l) => /Viewer disconnected/.test(l));
    });
    t.true(ended);
  } finally {
    await agent.stop();
  }
});

test.serial("credit holds across the hop: a relayed viewer that stops reading holds back its session's VNC server, and later gets every byte in order", async (t) => {
  const agent = await connectAgent(holder, admin, { agentId: 'relay-agent-2', platform: 'relay-2', mode: 'pattern' });
  try {
    const user = await v1User(holder, admin);
    const id = await runningSession(holder, user.token, 'relay-2');
    const slow = await openViewer(entry.url, id, user.token);
    await handshake(slow);
    slow.ws.pause();
    await new Promise((r) => setTimeout(r, 1500));
    const sentWhilePaused = agent.vncBytesSent(id) ?? 0;
    await new Promise((r) => setTimeout(r, 1000));
    const sentLater = agent.vncBytesSent(id) ?? 0;
    // The pattern server writes as fast as it may; only the credit (1 MiB) and socket buffers
    // between it and the stalled viewer hold it back. Unbounded relaying would be gigabytes.
    t.true(sentLater < 48 * 1024 * 1024, `the VNC server got ${sentLater} bytes out to a viewer that read nothing`);
    t.is(sentLater, sentWhilePaused, 'nothing more left the VNC server once the buffers were full');
    slow.ws.resume();
    const wanted = rfbVersion.length + sentLater + 4 * 1024 * 1024;
    const got = await slow.waitBytes(wanted, 30_000);
    const pattern = got.subarray(rfbVersion.length);
    t.true(isPattern(pattern), 'no byte dropped or reordered across the hop');
    slow.ws.close();
  } finally {
    await agent.stop();
  }
});

test.serial('when the holder vanishes, a relayed viewer is closed with 1012 (reconnect); when it shuts down, the agent moves and a reconnect reaches its new replica', async (t) => {
  const agent = await connectAgent(holder, admin, { agentId: 'relay-agent-3', platform: 'relay-3', url: agentPath.url, autoReconnect: true });
  try {
    const user = await v1User(holder, admin);
    const id = await runningSession(holder, user.token, 'relay-3');

    // The holder's address stops answering mid-stream (no close frame: as after SIGKILL).
    const first = await openViewer(entry.url, id, user.token);
    await handshake(first);
    holderPath.cutAll();
    const cut = await first.closed;
    t.is(cut.code, 1012);
    t.regex(cut.reason, /reconnect/);

    // Reachable again: a reconnect is relayed as before.
    const second = await openViewer(entry.url, id, user.token);
    await handshake(second);

    // The holder shuts down (SIGTERM): its viewers are told to reconnect, and the agent,
    // through the load balancer, registers with another replica.
    agentPath.retarget(spare.url);
    await holder.close();
    const closed = await second.closed;
    t.is(closed.code, 1012);
    const third = await waitFor('a viewer reconnect to reach the agent on its new replica', () => openViewer(entry.url, id, user.token).catch(() => null), 20_000);
    await handshake(third);
    third.ws.send(Buffer.from('after the move'), { binary: true });
    const echoed = await third.waitBytes(rfbVersion.length + 14);
    t.is(echoed.subarray(rfbVersion.length).toString(), 'after the move');
    third.ws.close();
  } finally {
    await agent.stop();
  }
});
