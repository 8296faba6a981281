import test from 'ava';
import { startTestApp, type TestApp } from '../../helpers/start-test-app.ts';
import { holdConnection, timedGets, type HeldConnection } from '../../helpers/slow-clients.ts';

// Connections that hold the server without finishing a request: slowloris (headers a byte a
// second), plain idle connections, idle keep-alive. Short timeouts so the test runs in seconds.
const headersTimeoutMs = 2_000;
const keepAliveTimeoutMs = 500;
const capPerAddress = 50;

let app: TestApp;
let port: number;

test.before(async () => {
  app = await startTestApp({
    config: { server: { headers_timeout_ms: headersTimeoutMs, request_timeout_ms: 3_000, keep_alive_timeout_ms: keepAliveTimeoutMs, max_connections_per_ip: capPerAddress } },
  });
  port = Number(new URL(app.url).port);
});

test.after.always(async () => {
  await app?.close();
});

const closedAll = (held: HeldConnection[]): Promise<void> => Promise.all(held.map((h) => h.closed)).then(() => undefined);

test.serial('slowloris: 200 connections sending headers a byte a second; others are served, the cap and the headers timeout cut them', async (t) => {
  const attacker = '127.0.0.2';
  const held = await Promise.all(Array.from({ length: 200 }, () => holdConnection(port, attacker, { data: 'GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa', everyMs: 1_000 })));
  const others = await timedGets(`${app.url}/healthz`, 30);
  const heldWhileServed = held.filter((h) => h.closedAfterMs === null).length;
  await closedAll(held);
  const refused = held.filter((h) => h.responses()[0]?.status === 429);
  const timedOut = held.filter((h) => h.responses()[0]?.status === 408);
  t.log(`others: p50 ${others.p50.toFixed(1)} ms, max ${others.max.toFixed(1)} ms; attacker: ${refused.length} refused at once, ${timedOut.length} cut by the headers timeout`);
  t.true(
    others.statuses.every((s) => s === 200),
    'every other client was served',
  );
  // Latency is logged, not asserted: on a loaded machine it is the machine's. What matters is being served while the attack holds.
  t.is(heldWhileServed, capPerAddress, 'the other client was served while the slow connections were all still held');
  t.is(refused.length, 200 - capPerAddress, 'connections past the per-address cap are refused with 429');
  t.is(timedOut.length, capPerAddress, 'the rest are answered 408 when their headers time out');
  const [first] = refused;
  t.is(JSON.parse(first?.responses()[0]?.body ?? '{}').code, 'TOO_MANY_CONNECTIONS');
  t.is(first?.responses()[0]?.headers['x-request-id'] !== undefined, true);
  t.true(
    refused.every((h) => (h.closedAfterMs ?? Infinity) < 1_500),
    'refused connections are closed at once',
  );
  const cutAfter = timedOut.map((h) => h.closedAfterMs ?? Infinity);
  t.log(`cut after ${Math.min(...cutAfter).toFixed(0)}-${Math.max(...cutAfter).toFixed(0)} ms (headers timeout ${headersTimeoutMs} ms)`);
  t.true(cutAfter.every((ms) => ms >= headersTimeoutMs - 50 && ms < headersTimeoutMs + 1_500));
  const envelope = JSON.parse(timedOut[0]?.responses()[0]?.body ?? '{}') as { code?: string; request_id?: string };
  t.is(envelope.code, 'REQUEST_TIMEOUT');
  t.truthy(envelope.request_id);
});

test.serial('1,000 idle connections from 20 addresses: others are served, and the headers timeout closes them all', async (t) => {
  const held = await Promise.all(Array.from({ length: 1_000 }, (_, i) => holdConnection(port, `127.0.1.${(i % 20) + 1}`)));
  const others = await timedGets(`${app.url}/healthz`, 30);
  const openWhileServing = held.filter((h) => h.closedAfterMs === null).length;
  await closedAll(held);
  const cutAfter = held.map((h) => h.closedAfterMs ?? Infinity);
  t.log(
    `1,000 idle: others p50 ${others.p50.toFixed(1)} ms, max ${others.max.toFixed(1)} ms; ${openWhileServing} still open while they were served; closed after ${Math.min(...cutAfter).toFixed(0)}-${Math.max(...cutAfter).toFixed(0)} ms`,
  );
  t.true(others.statuses.every((s) => s === 200));
  t.true(openWhileServing > 900, 'the idle connections were really held while others were served');
  t.true(
    cutAfter.every((ms) => ms < headersTimeoutMs + 2_000),
    'none outlives the headers timeout by more than the check interval',
  );
  t.true(held.every((h) => h.responses()[0]?.status === 408));
});

test.serial('an idle keep-alive connection is closed after keep_alive_timeout_ms', async (t) => {
  const held = await holdConnection(port, '127.0.0.4');
  held.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  const answeredAt = await new Promise<number>((resolve) => held.socket.once('data', () => resolve(performance.now())));
  await held.closed;
  const idleMs = performance.now() - answeredAt;
  t.log(`keep-alive closed ${idleMs.toFixed(0)} ms after the answer`);
  t.is(held.responses()[0]?.status, 200);
  // Node keeps the socket up to 1 s past what it advertises (keepAliveTimeoutBuffer), so a client never reuses one being closed.
  t.true(idleMs >= keepAliveTimeoutMs - 50 && idleMs < keepAliveTimeoutMs + 2_000);
});

test.serial('the per-address cap frees a place when a connection closes', async (t) => {
  const address = '127.0.0.5';
  const held = await Promise.all(Array.from({ length: capPerAddress }, () => holdConnection(port, address)));
  const over = await holdConnection(port, address);
  await over.closed;
  t.is(over.responses()[0]?.status, 429);
  held[0]?.socket.destroy();
  await held[0]?.closed;
  await new Promise((resolve) => setTimeout(resolve, 50));
  const next = await holdConnection(port, address);
  next.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  await next.closed;
  t.is(next.responses()[0]?.status, 200, 'a place was free again');
  for (const h of held) h.socket.destroy();
});
