import test from 'ava';
import { createServer } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AgentClient } from '../../../src/core/agent/agent-client.ts';
import { assertAgentReady, getAgentReady, isAgentReadyResult } from '../../../src/core/agent/readiness.ts';
import { AppError } from '../../../src/core/http/errors.ts';
import { startFakeAgents, type FakeAgents } from '../../fakes/fake-agents.ts';

let fakes: FakeAgents;
let client: AgentClient;

const timeouts = { connectMs: 300, totalMs: 500 };

test.before(async () => {
  fakes = await startFakeAgents();
  client = new AgentClient({
    timeouts: { poll: timeouts, action: timeouts, backup: { connectMs: 300, totalMs: 2000 } },
    maxResponseBytes: 64 * 1024,
    maxSockets: 32,
    breaker: { threshold: 3, cooldownMs: 200, maxCooldownMs: 1000 },
  });
});

test.after.always(async () => {
  client?.close();
  await fakes?.close();
});

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (err) {
    if (err instanceof AppError) return err.code;
    throw err;
  }
}

test('a normal agent: calls validate against the contract and forward X-Request-Id', async (t) => {
  const agent = fakes.add();
  const health = await client.call(agent, 'health', { requestId: 'rid-1' });
  t.is(health.status, 'ok');
  const status = await client.call(agent, 'status', { kind: 'poll' });
  t.is(status.state, 'stopped');
  t.deepEqual(await client.call(agent, 'start'), { state: 'starting' });
  t.is((await client.call(agent, 'status')).state, 'running');
  t.true(isAgentReadyResult(await getAgentReady(client, agent)));
  await t.notThrowsAsync(assertAgentReady(client, agent));
});

test('every call names the replica that makes it in X-Panel-Replica, so an agent can tell its pollers apart', async (t) => {
  const seen: Array<string | string[] | undefined> = [];
  const observed = await startFakeAgents({ onRequest: (_id, _route, headers) => seen.push(headers['x-panel-replica']) });
  const named = new AgentClient({
    timeouts: { poll: timeouts, action: timeouts, backup: timeouts },
    maxResponseBytes: 64 * 1024,
    maxSockets: 4,
    breaker: { threshold: 3, cooldownMs: 200, maxCooldownMs: 1000 },
    replicaId: 'replica-7',
  });
  try {
    const agent = observed.add();
    await named.call(agent, 'health', { kind: 'poll' });
    await named.call(agent, 'start');
    await client.call(agent, 'health');
    t.deepEqual(seen, ['replica-7', 'replica-7', undefined]);
  } finally {
    named.close();
    await observed.close();
  }
});

test('an agent 4xx becomes AGENT_ERROR with the same status and the agent body in details', async (t) => {
  const agent = fakes.add();
  const err = await t.throwsAsync(client.call(agent, 'stop'), { instanceOf: AppError });
  t.is(err?.status, 409);
  t.is(err?.code, 'AGENT_ERROR');
  t.like(err?.details, { agent_status: 409, agent_body: { code: 'conflict' } });
});

test('a wrong token is AGENT_ERROR 401', async (t) => {
  const agent = fakes.add();
  const err = await t.throwsAsync(client.call({ ...agent, token: 'wrong' }, 'health'), { instanceOf: AppError });
  t.is(err?.status, 401);
  t.is(err?.code, 'AGENT_ERROR');
});

test('each fault maps to its code, and readiness is never true for it', async (t) => {
  const cases: Array<[Parameters<FakeAgents['setFault']>[1], string]> = [
    [{ mode: 'hang' }, 'AGENT_TIMEOUT'],
    [{ mode: 'slow', delayMs: 2000 }, 'AGENT_TIMEOUT'],
    [{ mode: 'error500' }, 'AGENT_BAD_RESPONSE'],
    [{ mode: 'garbage' }, 'AGENT_BAD_RESPONSE'],
    [{ mode: 'close' }, 'AGENT_UNREACHABLE'],
    [{ mode: 'drip', byteDelayMs: 100 }, 'AGENT_TIMEOUT'],
  ];
  for (const [fault, code] of cases) {
    const agent = fakes.add({ fault });
    t.is(await codeOf(client.call(agent, 'status', { kind: 'poll' })), code, fault.mode);
    const ready = await getAgentReady(client, agent, { ignoreBreaker: true });
    t.false(isAgentReadyResult(ready), fault.mode);
    t.is(await codeOf(assertAgentReady(client, agent)), code, `${fault.mode} assert`);
  }
});

test('200 with ready:false, 503, a redirect or a non-object are not ready', async (t) => {
  const notReady = fakes.add({ fault: { mode: 'not_ready', reason: 'warming up' } });
  const result = await getAgentReady(client, notReady);
  t.true(result.answered);
  t.false(isAgentReadyResult(result));
  const err = await t.throwsAsync(assertAgentReady(client, notReady), { instanceOf: AppError });
  t.is(err?.code, 'AGENT_NOT_READY');
  t.regex(err?.message ?? '', /warming up/);
  const installing = fakes.add({ state: 'installing' });
  t.false(isAgentReadyResult(await getAgentReady(client, installing)));
  t.false(isAgentReadyResult({ answered: true, status: 302, body: { ready: true } }));
  t.false(isAgentReadyResult({ answered: true, status: 200, body: 'ready' }));
  t.false(isAgentReadyResult({ answered: true, status: 200, body: { ready: 'true' } }));
  t.false(isAgentReadyResult({ answered: true, status: 200, body: null }));
  t.true(isAgentReadyResult({ answered: true, status: 200, body: { ready: true } }));
});

test('a refused connection is AGENT_UNREACHABLE; the circuit opens after repeated failures and closes when the agent answers', async (t) => {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const dead = { baseUrl: `http://127.0.0.1:${port}`, token: 'x' };
  for (let i = 0; i < 3; i += 1) t.is(await codeOf(client.call(dead, 'health')), 'AGENT_UNREACHABLE');
  const fast = await t.throwsAsync(client.call(dead, 'health'), { instanceOf: AppError });
  t.regex(String(fast?.details.reason), /circuit open/);
  // Polls go through an open circuit (they have their own backoff) and a success closes it.
  const revived = createHttpServer((_req, res) => {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ status: 'ok', agent: { version: '1', uptime_s: 1 } }));
  });
  await new Promise<void>((resolve) => revived.listen(port, '127.0.0.1', resolve));
  t.teardown(() => {
    revived.closeAllConnections();
    return new Promise<void>((resolve) => revived.close(() => resolve()));
  });
  t.is((await client.call(dead, 'health', { ignoreBreaker: true })).status, 'ok');
  t.is((await client.call(dead, 'health')).status, 'ok');
});

test('an answer over the size limit is AGENT_BAD_RESPONSE', async (t) => {
  const small = new AgentClient({
    timeouts: { poll: timeouts, action: timeouts, backup: timeouts },
    maxResponseBytes: 50,
    maxSockets: 4,
    breaker: { threshold: 3, cooldownMs: 100, maxCooldownMs: 100 },
  });
  t.teardown(() => small.close());
  const agent = fakes.add();
  t.is(await codeOf(small.call(agent, 'status')), 'AGENT_BAD_RESPONSE');
});

test('one hung agent does not delay calls to another', async (t) => {
  const hung = fakes.add({ fault: { mode: 'hang' } });
  const healthy = fakes.add();
  // Order, not a stopwatch: the healthy answer must arrive while the hung call still waits for its 500 ms timeout.
  let hungSettled = false;
  const slow = client
    .call(hung, 'status', { kind: 'poll' })
    .catch(() => undefined)
    .finally(() => (hungSettled = true));
  await client.call(healthy, 'status', { kind: 'poll' });
  t.false(hungSettled, 'the hung call (500 ms timeout) did not hold up the healthy one');
  await slow;
});
