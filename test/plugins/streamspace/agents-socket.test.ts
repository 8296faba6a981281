import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { isRefusal } from '../../helpers/ws-client.ts';
import { commandLog, getAgent, issueKey, openAgentSocket, rawAgent, registerMessage, uniq, waitAgent, type Frame, type RawAgent } from './raw-agent.ts';
import { call, connectAgent, startStreamspace, v1, v1Admin, v1User, waitFor, waitState, type V1Session } from './ss-helpers.ts';

/** The agent socket (seed "WebSocket Protocol" + addendum): keys, registration, liveness, commands. Heartbeat interval: 1 s. */
let app: TestApp;
let admin: V1Session;
/** Fast retries. Started up front: starting an app blocks the event loop long enough to make in-process agents miss heartbeats. */
let retryApp: TestApp;

test.before(async () => {
  [app, retryApp] = await Promise.all([
    startStreamspace({}, { heartbeat_interval_s: 1, state_wait_ms: 500 }),
    startStreamspace({}, { heartbeat_interval_s: 1, commands: { ack_timeout_ms: 300, max_attempts: 3, result_timeout_ms: 300_000, reconnect_wait_ms: 30_000 } }),
  ]);
  admin = await v1Admin(app);
});

test.after.always(async () => {
  await Promise.all([app?.close(), retryApp?.close()]);
});

const bearer = (key: string): Record<string, string> => ({ Authorization: `Bearer ${key}` });

test("the upgrade needs the current key of that very agent_id: none, a wrong one or another agent's is refused with 401", async (t) => {
  const mine = uniq('auth');
  const other = uniq('auth-other');
  await issueKey(app, admin, mine);
  const othersKey = await issueKey(app, admin, other);
  for (const [what, headers] of [
    ['no key', {}],
    ['a wrong key', bearer('ssak_not-the-key')],
    ["another agent's key", bearer(othersKey)],
  ] as const) {
    const res = await openAgentSocket(app, mine, 'docker', headers);
    if (!isRefusal(res)) {
      res.ws.terminate();
      t.fail(`${what}: the upgrade was accepted`);
      continue;
    }
    t.is(res.status, 401, what);
  }
  t.is((await call(app, 'GET', `${v1}/agents/${mine}`, admin.token)).status, 404, 'nothing registered');
});

test('/agent/ws does not check Origin: a valid key from https://evil.example still connects and registers', async (t) => {
  const agentId = uniq('origin');
  const key = await issueKey(app, admin, agentId);
  const res = await openAgentSocket(app, agentId, 'docker', { ...bearer(key), Origin: 'https://evil.example' });
  if (isRefusal(res)) return t.fail(`refused: ${res.status} ${JSON.stringify(res.body)}`);
  try {
    res.send(registerMessage(agentId, 'docker'));
    await res.waitFor((f) => (f as Frame).type === 'register_ack', 10_000, 'register_ack');
    t.is((await getAgent(app, admin, agentId)).status, 'online');
  } finally {
    res.ws.terminate();
  }
});

test('register is answered with register_ack carrying heartbeat_interval as a duration string; nothing counts before it', async (t) => {
  const agentId = uniq('reg');
  const key = await issueKey(app, admin, agentId);
  const res = await openAgentSocket(app, agentId, 'docker', bearer(key));
  if (isRefusal(res)) return t.fail(`refused: ${res.status}`);
  try {
    res.send({ type: 'heartbeat', agent_id: agentId, capacity: { current_sessions: 1 } });
    await sleep(300);
    t.is((await call(app, 'GET', `${v1}/agents/${agentId}`, admin.token)).status, 404, 'a heartbeat before register does not register the agent');
    res.send(registerMessage(agentId, 'docker'));
    const ack = (await res.waitFor((f) => (f as Frame).type === 'register_ack', 10_000, 'register_ack')) as Frame & { agent_id: string; status: string };
    t.like(ack, { agent_id: agentId, status: 'registered', heartbeat_interval: '1s' });
    t.is((await getAgent(app, admin, agentId)).status, 'online');
  } finally {
    res.ws.terminate();
  }
});

test("a register naming another agent_id than the key's is closed with 1008", async (t) => {
  const agentId = uniq('mismatch');
  const impostor = uniq('impostor');
  const key = await issueKey(app, admin, agentId);
  const res = await openAgentSocket(app, agentId, 'docker', bearer(key));
  if (isRefusal(res)) return t.fail(`refused: ${res.status}`);
  try {
    res.send(registerMessage(impostor, 'docker'));
    const closed = await Promise.race([res.closed, sleep(5000).then(() => null)]);
    t.is(closed?.code, 1008);
    t.is((await call(app, 'GET', `${v1}/agents/${impostor}`, admin.token)).status, 404);
  } finally {
    res.ws.terminate();
  }
});

test('heartbeats update capacity.current_sessions and last_heartbeat', async (t) => {
  const agent = await rawAgent(app, admin, { keepAliveMs: 500 });
  try {
    const before = await getAgent(app, admin, agent.agentId);
    t.is(before.capacity.current_sessions, 0);
    await sleep(600);
    agent.heartbeat(7);
    const after = await waitAgent(app, admin, agent.agentId, (a) => a.capacity.current_sessions === 7, 'current_sessions 7');
    t.true(Date.parse(after.last_heartbeat ?? '') > Date.parse(before.last_heartbeat ?? ''), `last_heartbeat moved on: ${before.last_heartbeat} → ${after.last_heartbeat}`);
  } finally {
    await agent.close();
  }
});

test('malformed JSON and unknown message types are ignored: the socket stays open and heartbeats still count', async (t) => {
  const agent = await rawAgent(app, admin, { keepAliveMs: 500 });
  try {
    agent.socket.send('{"type": "heartbeat", oops');
    agent.socket.send('not json at all');
    agent.send({ type: 'telemetry_v9', agent_id: agent.agentId, cpu: 0.5 });
    agent.heartbeat(3);
    await waitAgent(app, admin, agent.agentId, (a) => a.capacity.current_sessions === 3, 'current_sessions 3');
    t.is(agent.socket.ws.readyState, agent.socket.ws.OPEN);
    t.is((await getAgent(app, admin, agent.agentId)).status, 'online');
  } finally {
    await agent.close();
  }
});

test.serial('an agent silent for 3 heartbeat intervals goes offline, and the control plane closes its socket', async (t) => {
  const agent = await rawAgent(app, admin);
  const registeredAt = Date.now();
  try {
    await waitAgent(app, admin, agent.agentId, (a) => a.status === 'offline', 'offline', 10_000);
    t.true(Date.now() - registeredAt >= 2500, `offline after ${Date.now() - registeredAt} ms, not before 3 intervals`);
    const closed = await Promise.race([agent.socket.closed, sleep(5000).then(() => null)]);
    t.not(closed, null, 'the socket was closed by the control plane');
  } finally {
    await agent.close();
  }
});

test.serial('a single heartbeat ~1.6 intervals late keeps the agent online throughout', async (t) => {
  const agent = await rawAgent(app, admin);
  try {
    const seen: string[] = [];
    for (let round = 0; round < 2; round += 1) {
      const until = Date.now() + 1600;
      while (Date.now() < until) {
        seen.push((await getAgent(app, admin, agent.agentId)).status);
        await sleep(200);
      }
      agent.heartbeat(round + 1);
      await waitAgent(app, admin, agent.agentId, (a) => a.capacity.current_sessions === round + 1, 'the late heartbeat');
    }
    t.true(seen.length >= 6, `polled ${seen.length} times`);
    t.deepEqual([...new Set(seen)], ['online']);
    t.is(agent.socket.ws.readyState, agent.socket.ws.OPEN);
  } finally {
    await agent.close();
  }
});

test.serial('closing the socket takes the agent offline at once, without waiting for the sweep', async (t) => {
  const agent = await rawAgent(app, admin);
  agent.heartbeat(2);
  await waitAgent(app, admin, agent.agentId, (a) => a.capacity.current_sessions === 2, 'the heartbeat');
  await agent.close();
  // The sweep could only do it 3 s after that heartbeat.
  await waitAgent(app, admin, agent.agentId, (a) => a.status === 'offline', 'offline', 2000);
  t.pass();
});

test('a second connection replaces the first (4409), and the first closing does not take the agent offline', async (t) => {
  const first = await rawAgent(app, admin, { keepAliveMs: 400 });
  let second: RawAgent | null = null;
  try {
    second = await rawAgent(app, admin, { agentId: first.agentId, key: first.key, keepAliveMs: 400 });
    const closed = await Promise.race([first.socket.closed, sleep(5000).then(() => null)]);
    t.is(closed?.code, 4409);
    second.heartbeat(4);
    await waitAgent(app, admin, first.agentId, (a) => a.capacity.current_sessions === 4, "the new connection's heartbeat");
    for (let i = 0; i < 8; i += 1) {
      t.is((await getAgent(app, admin, first.agentId)).status, 'online');
      await sleep(250);
    }
    second.heartbeat(5);
    await waitAgent(app, admin, first.agentId, (a) => a.capacity.current_sessions === 5 && a.status === 'online', 'heartbeats still accepted');
    t.is(second.socket.ws.readyState, second.socket.ws.OPEN);
  } finally {
    await first.close();
    await second?.close();
  }
});

test('command_ack and command_result count only from the agent the command was sent to', async (t) => {
  const user = await v1User(app, admin);
  const a = await rawAgent(app, admin, { platform: uniq('pa'), keepAliveMs: 500 });
  const b = await rawAgent(app, admin, { platform: uniq('pb'), keepAliveMs: 500 });
  try {
    const created = await call(app, 'POST', `${v1}/sessions`, user.token, { template: 'firefox-browser', platform: a.platform });
    t.is(created.status, 202);
    t.is(created.body.agent_id, a.agentId);
    const id = created.body.id as string;
    const start = (await a.socket.waitFor((f) => (f as Frame).type === 'command' && (f as Frame).session_id === id, 10_000, 'start_session')) as Frame;
    const cmd = start.command_id as string;
    b.send({ type: 'command_ack', command_id: cmd, agent_id: b.agentId, status: 'acknowledged' });
    b.send({ type: 'command_result', command_id: cmd, agent_id: b.agentId, status: 'completed', result: { session_id: id, pod_ip: '10.0.0.9', vnc_port: 5900 } });
    b.heartbeat(9); // processed after B's ack and result
    await waitAgent(app, admin, b.agentId, (x) => x.capacity.current_sessions === 9, "B's later heartbeat");
    await sleep(300);
    t.is((await call(app, 'GET', `${v1}/sessions/${id}`, user.token)).body.state, 'pending');
    const log = (await commandLog(app, admin, id)).find((c) => c.command_id === cmd);
    t.is(log?.status, 'sent', "neither B's ack nor its result counted");
    a.send({ type: 'command_ack', command_id: cmd, agent_id: a.agentId, status: 'acknowledged' });
    await waitFor('acknowledged', async () => (await commandLog(app, admin, id)).find((c) => c.command_id === cmd)?.status === 'acknowledged');
    a.send({ type: 'command_result', command_id: cmd, agent_id: a.agentId, status: 'completed', result: { session_id: id, pod_ip: '10.0.0.8', vnc_port: 5900, started_at: new Date().toISOString() } });
    await waitState(app, user.token, id, 'running');
    t.is((await commandLog(app, admin, id)).find((c) => c.command_id === cmd)?.status, 'completed');
  } finally {
    await a.close();
    await b.close();
  }
});

test('a command never acknowledged is sent max_attempts times, then timed_out, and the session ends failed; a late success is undone with a stop', async (t) => {
  let agent: RawAgent | null = null;
  try {
    const retryAdmin = await v1Admin(retryApp);
    const user = await v1User(retryApp, retryAdmin);
    agent = await rawAgent(retryApp, retryAdmin, { keepAliveMs: 500 });
    const created = await call(retryApp, 'POST', `${v1}/sessions`, user.token, { template: 'firefox-browser' });
    t.is(created.status, 202);
    const id = created.body.id as string;
    const silent = agent;
    await waitFor('3 deliveries', async () => silent.commands().length >= 3);
    const failed = await waitState(retryApp, user.token, id, 'failed');
    t.truthy(failed.status.error_code);
    const [entry] = await commandLog(retryApp, retryAdmin, id);
    t.is(entry?.status, 'timed_out');
    await sleep(800);
    const deliveries = silent.commands();
    t.is(deliveries.length, 3, 'sent exactly max_attempts times');
    t.deepEqual([...new Set(deliveries.map((c) => c.command_id))], [entry?.command_id]);
    // The start succeeds on the agent after all: the failed session must not leave it running there.
    silent.send({ type: 'command_result', command_id: entry?.command_id, agent_id: silent.agentId, status: 'completed', result: { session_id: id } });
    const stop = await waitFor('a stop for the late start', async () => silent.commands().find((c) => c.command_type === 'stop_session' && c.session_id === id));
    t.truthy(stop);
    t.is((await call(retryApp, 'GET', `${v1}/sessions/${id}`, user.token)).body.state, 'failed', 'the late result does not revive the session');
  } finally {
    await agent?.close();
  }
});

test('a command issued while the agent is away is delivered when it reconnects within the window, and completes', async (t) => {
  const user = await v1User(app, admin);
  const platform = uniq('away');
  const agentId = uniq('sim-away');
  const agent = await connectAgent(app, admin, { agentId, platform });
  try {
    const created = await call(app, 'POST', `${v1}/sessions`, user.token, { template: 'firefox-browser', platform });
    const id = created.body.id as string;
    await waitState(app, user.token, id, 'running');
    agent.drop();
    await waitAgent(app, admin, agentId, (a) => a.status === 'offline', 'offline');
    const patched = await call(app, 'PATCH', `${v1}/sessions/${id}`, user.token, { state: 'hibernated' });
    t.is(patched.status, 202, JSON.stringify(patched.body));
    t.is(patched.body.state, 'hibernating');
    await agent.reconnect();
    await waitState(app, user.token, id, 'hibernated');
    t.true(agent.receivedCommands.some((c) => c.command_type === 'hibernate_session' && c.session_id === id));
    t.true((await commandLog(app, admin, id)).some((c) => c.command_type === 'hibernate_session' && c.status === 'completed'));
  } finally {
    await agent.stop();
  }
});
