import { createHash, randomBytes } from 'node:crypto';
import test from 'ava';
import pg from 'pg';
import { SimAgent } from '../../scripts/lib/streamspace-sim-agent.ts';
import type { ClusterReplica } from '../../scripts/lib/cluster.ts';
import { eventually } from '../helpers/agent-core.ts';
import { handshake, openViewer, pump, rfbVersion, type Viewer } from '../plugins/streamspace/vnc-viewer.ts';
import { adminPassword, send, startTestCluster, type TestCluster } from './cluster-helpers.ts';

/**
 * Real replicas killed with SIGKILL under a VNC viewer: three replicas behind nginx, on
 * PostgreSQL on both runs of the suite (the embedded database serves one process). The agent
 * reaches the replicas through nginx, as a real agent would through a load balancer.
 */
let running: TestCluster;
let agent: SimAgent | null = null;

test.before(async () => {
  running = await startTestCluster({ alwaysPostgres: true });
});
test.after.always(async () => {
  await agent?.stop();
  await running?.close();
});

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** The replica (by number) holding the agent's socket, from the rows every replica shares. */
async function holderOf(agentId: string): Promise<number> {
  const client = new pg.Client({ connectionString: running.databaseUrl as string });
  await client.connect();
  try {
    const found = await client.query<{ internal_url: string }>(`SELECT r.internal_url FROM streamspace_agents a JOIN replicas r ON r.id = a.replica_id WHERE a.agent_id = $1 AND a.connected`, [
      agentId,
    ]);
    const url = found.rows[0]?.internal_url;
    const replica = running.cluster.replicas().find((r) => r.url === url);
    if (!replica) throw new Error(`no live replica holds ${agentId} (${url ?? 'none'})`);
    return replica.number;
  } finally {
    await client.end();
  }
}

async function echoes(viewer: Viewer, word: string): Promise<boolean> {
  const before = viewer.received().length;
  viewer.ws.send(Buffer.from(word), { binary: true });
  const got = await viewer.waitBytes(before + word.length, 5_000);
  return got.subarray(before).toString() === word;
}

test("a viewer on a replica without the agent streams byte-exact; killing the agent's replica, then the viewer's, it reconnects and carries on", async (t) => {
  const { cluster } = running;
  const login = await send(cluster, { method: 'POST', path: '/api/v1/auth/login', body: { username: 'admin', password: adminPassword } });
  const token = login.json().token as string;
  const auth = { Authorization: `Bearer ${token}` };
  const key = await send(cluster, { method: 'POST', path: '/api/v1/admin/agent-keys', body: { agent_id: 'kill-agent' }, headers: auth });
  agent = new SimAgent({ url: cluster.url, agentId: 'kill-agent', key: key.json().key as string, platform: 'kill', autoReconnect: true, commandDelayMs: 20 });
  await agent.start();
  const created = await send(cluster, { method: 'POST', path: '/api/v1/sessions', body: { template: 'firefox-browser', platform: 'kill' }, headers: auth });
  const id = created.json().id as string;
  await eventually(async () => (await send(cluster, { path: `/api/v1/sessions/${id}`, headers: auth })).json().state === 'running', 30_000, 'session running');

  const holder = await holderOf('kill-agent');
  const entry = cluster.replicas().find((r) => r.number !== holder) as ClusterReplica;
  const viewer = await openViewer(entry.url, id, token);
  await handshake(viewer);
  const payload = randomBytes(4 * 1024 * 1024);
  await pump(viewer, payload);
  const got = await viewer.waitBytes(rfbVersion.length + payload.length, 30_000);
  t.is(sha(got.subarray(rfbVersion.length, rfbVersion.length + payload.length)), sha(payload), 'byte-exact through the relay');

  // SIGKILL the agent's replica mid-stream: no close frame from it, the relay just drops.
  process.kill(cluster.replicas().find((r) => r.number === holder)?.pid as number, 'SIGKILL');
  const closed = await viewer.closed;
  t.is(closed.code, 1012, 'told to reconnect');
  // The agent registers again through nginx with a live replica; the viewer's reconnect gets there.
  const again = await eventually(() => openViewer(entry.url, id, token).catch(() => undefined), 30_000, 'the viewer to reconnect once the agent has moved');
  await handshake(again);
  t.true(await echoes(again, 'after the holder died'));
  t.not(await holderOf('kill-agent'), holder);

  // SIGKILL the viewer's own replica: the connection drops (1006); a reconnect through nginx carries on.
  process.kill(entry.pid, 'SIGKILL');
  t.is((await again.closed).code, 1006);
  const third = await eventually(() => openViewer(cluster.url, id, token).catch(() => undefined), 30_000, 'a viewer through nginx');
  await handshake(third);
  t.true(await echoes(third, 'after the entry died'));
  third.ws.close();
});
