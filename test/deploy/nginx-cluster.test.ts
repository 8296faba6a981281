import test from 'ava';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { WebSocket } from 'ws';
import { openSse } from '../helpers/sse-client.ts';
import { isRefusal, openSocket } from '../helpers/ws-client.ts';
import { eventually } from '../helpers/agent-core.ts';
import { adminPassword, loggedRequestIds, login, send, startTestCluster, type TestCluster } from './cluster-helpers.ts';

// Real replicas (src/main.ts as npm start runs it) behind real nginx running deploy/nginx.conf,
// started as scripts/cluster starts them: three on PostgreSQL, one on PGlite. Serial: the last
// test restarts a replica.

let running: TestCluster;
const defaults = JSON.parse(readFileSync(new URL('../../config/default.json', import.meta.url), 'utf8')) as { server: { body_limit_bytes: number } };

test.before(async (t) => {
  const began = performance.now();
  running = await startTestCluster();
  t.log(`${running.cluster.replicas().length} replica(s) and nginx started in ${((performance.now() - began) / 1000).toFixed(1)} s`);
});
test.after.always(async () => {
  await running?.close();
});

test.serial('requests through nginx are spread over every replica, and its access log names the replica and request id', async (t) => {
  const { cluster } = running;
  const ids = Array.from({ length: cluster.replicas().length * 4 }, (_, i) => `spread-${i}-${randomUUID()}`);
  for (const id of ids) {
    const res = await send(cluster, { path: '/readyz', headers: { 'X-Request-Id': id } });
    t.is(res.status, 200);
    t.is(res.headers['x-request-id'], id);
  }
  // A replica writes its log line a moment after the answer.
  const byReplica = await eventually(
    async () => {
      const logged = loggedRequestIds(cluster);
      return ids.every((id) => [...logged.values()].some((s) => s.has(id))) ? logged : null;
    },
    15_000,
    'every request in a replica log',
  );
  for (const replica of cluster.replicas()) {
    t.true(
      ids.some((id) => byReplica.get(replica.number)?.has(id)),
      `replica ${replica.number} served none of ${ids.length} requests`,
    );
  }
  const first = ids[0] as string;
  const servedBy = cluster.replicas().find((r) => byReplica.get(r.number)?.has(first));
  const line = await eventually(
    async () =>
      readFileSync(cluster.nginxAccessLog, 'utf8')
        .split('\n')
        .find((l) => l.includes(`request_id=${first}`)),
    15_000,
    'the access log line',
  );
  t.true(line.includes(`upstream=127.0.0.1:${servedBy?.port}`), line);
});

test.serial('the client IP the API records is the one nginx saw (proxy_hops=1), not one the client claims', async (t) => {
  const { cluster } = running;
  const requestId = `xff-${randomUUID()}`;
  // The client connects from 127.0.0.2; nginx reaches the replicas from 127.0.0.1.
  await login(cluster, '127.0.0.2', { 'X-Forwarded-For': '203.0.113.9', 'X-Request-Id': requestId });
  const admin = await login(cluster);
  const audit = await send(cluster, { path: '/api/admin/audit?action=auth.login&limit=100', headers: { Authorization: `Bearer ${admin}` } });
  t.is(audit.status, 200);
  const entry = (audit.json().entries as Array<{ request_id: string; ip: string }>).find((e) => e.request_id === requestId);
  t.is(entry?.ip, '127.0.0.2');
});

test.serial('an event stream through nginx delivers each event while it stays open', async (t) => {
  const { cluster } = running;
  const watcher = await login(cluster);
  const stream = await openSse(`${cluster.url}/api/events`, { Authorization: `Bearer ${watcher}` });
  t.is(stream.status, 200);
  let ended = false;
  void stream.ended.then(() => (ended = true));
  try {
    // A second sign-in of the same admin ends; its event reaches this stream, through
    // LISTEN/NOTIFY when the logout lands on another replica.
    const other = await login(cluster);
    const out = await send(cluster, { method: 'POST', path: '/api/auth/logout', body: {}, headers: { Authorization: `Bearer ${other}` } });
    t.is(out.status, 204);
    const event = await stream.waitFor((e) => e.event === 'user.sessions_ended', 15_000);
    t.is((JSON.parse(event.data) as { data: { reason: string } }).data.reason, 'logout');
    t.false(ended, 'the event came only when the stream ended: something buffered it');
  } finally {
    stream.close();
  }
});

test.serial('a WebSocket upgrade passes through nginx both ways (StreamSpace agent socket)', async (t) => {
  const { cluster } = running;
  const v1 = await send(cluster, { method: 'POST', path: '/api/v1/auth/login', body: { username: 'admin', password: adminPassword } });
  t.is(v1.status, 200);
  const agentId = `nginx-test-${randomUUID().slice(0, 8)}`;
  const key = await send(cluster, { method: 'POST', path: '/api/v1/admin/agent-keys', body: { agent_id: agentId }, headers: { Authorization: `Bearer ${v1.json().token as string}` } });
  t.is(key.status, 201);
  const socket = await openSocket(`ws://127.0.0.1:${cluster.port}/agent/ws?agent_id=${agentId}&platform=docker`, { Authorization: `Bearer ${key.json().key as string}` });
  if (isRefusal(socket)) return t.fail(`upgrade refused: ${socket.status} ${JSON.stringify(socket.body)}`);
  try {
    socket.send({ type: 'register', agent_id: agentId, platform: 'docker' });
    const ack = (await socket.waitFor((f) => (f as { type?: string }).type === 'register_ack', 15_000, 'register_ack')) as { agent_id: string; status: string };
    t.is(ack.agent_id, agentId);
    t.is(ack.status, 'registered');
  } finally {
    socket.ws.close();
  }
});

test.serial("a body over the API's limit gets the API's own 413 envelope, not nginx's page", async (t) => {
  const limit = defaults.server.body_limit_bytes;
  const body = JSON.stringify({ refresh_token: 'x'.repeat(limit) });
  const res = await send(running.cluster, { method: 'POST', path: '/api/auth/refresh', body });
  t.is(res.status, 413);
  t.is(res.json().code, 'PAYLOAD_TOO_LARGE');
  t.deepEqual(res.json().details, { limit_bytes: limit });
});

test.serial('dev-<vmid>.<suffix> hosts reach the IDE entrance; other hosts never reach the API', async (t) => {
  const { cluster } = running;
  const ide = await send(cluster, { path: '/', host: `dev-4242.localhost:${cluster.port}`, headers: { Accept: 'application/json' } });
  t.is(ide.status, 401);
  t.is(ide.json().code, 'IDE_SESSION_REQUIRED');
  // nginx's default server closes the connection without an answer (444).
  await t.throwsAsync(send(cluster, { path: '/healthz', host: 'panel.attacker.example' }), { message: /socket hang up|ECONNRESET/ });
});

test.serial("the replicas' internal relay route is not reachable through nginx", async (t) => {
  const { cluster } = running;
  // nginx's own 404 page (not the API's envelope): the request never reached a replica.
  const through = await new Promise<number>((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${cluster.port}/internal/relay/streamspace.vnc`);
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('error', () => undefined);
  });
  t.is(through, 404, 'nginx answers 404');
  // Straight at a replica the route exists, and wants a signed token.
  const direct = await openSocket(`${(cluster.replicas()[0] as { url: string }).url.replace(/^http/, 'ws')}/internal/relay/streamspace.vnc`);
  t.true(isRefusal(direct) && direct.status === 401, 'a replica answers 401 without a relay token');
});

test.serial('a restarted replica serves again; while it restarts, the others answer every request', async (t) => {
  const { cluster } = running;
  const others = cluster.replicas().length - 1;
  const statuses: number[] = [];
  let restarting = true;
  const traffic = (async () => {
    while (restarting) {
      const res = await send(cluster, { path: '/healthz' }).catch(() => null);
      statuses.push(res?.status ?? 0);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const began = performance.now();
  const restarted = await cluster.restartReplica(1);
  t.log(`replica 1 stopped and answered /healthz again in ${((performance.now() - began) / 1000).toFixed(1)} s`);
  restarting = false;
  await traffic;
  if (others > 0) t.deepEqual([...new Set(statuses)], [200], 'some requests failed while one replica restarted');
  // nginx skips a replica that refused connections for fail_timeout (5 s), then sends it requests again.
  const sent: string[] = [];
  const deadline = Date.now() + 30_000;
  let back = false;
  while (!back && Date.now() < deadline) {
    const id = `after-restart-${randomUUID()}`;
    sent.push(id);
    const res = await send(cluster, { path: '/readyz', headers: { 'X-Request-Id': id } });
    if (res.status !== 200) return t.fail(`GET /readyz after the restart: ${res.status} ${res.text}`);
    await new Promise((r) => setTimeout(r, 100));
    const logged = loggedRequestIds(cluster).get(restarted.number);
    back = sent.some((s) => logged?.has(s));
  }
  t.true(back, `replica ${restarted.number} served none of ${sent.length} requests after its restart`);
});
