import { randomUUID } from 'node:crypto';
import test from 'ava';
import { encodeVncFrame } from '../../plugins/streamspace/contract/vnc-frames.ts';
import { FakeControlPlane, type AgentFrame } from './fake-control-plane.ts';

/** An agent under test, connected to `url` with autoReconnect on. */
export interface AgentUnderTest {
  platform: string;
  /** Whatever else start_session carries for this agent's sessions (the template's local section, say). */
  startData: Record<string, unknown>;
  stop(): Promise<void>;
}

const isResult = (id: string) => (m: AgentFrame) => m.type === 'command_result' && m.command_id === id;

/**
 * The StreamSpace agent protocol (docs/streamspace.md, "Agents") as tests, against a control
 * plane played by hand, so each frame is exactly what the test says. The simulator and the
 * desktop agent must both pass it.
 */
export function streamspaceAgentContractSuite(name: string, start: (url: string, agentId: string) => Promise<AgentUnderTest>): void {
  let plane: FakeControlPlane;
  let agent: AgentUnderTest;
  const agentId = `contract-${process.pid}`;
  const sessionId = randomUUID();
  let startData: Record<string, unknown>;

  test.before(async () => {
    plane = await FakeControlPlane.start();
    agent = await start(plane.url, agentId);
    startData = {
      name: `contract-${sessionId.slice(0, 8)}`,
      template: 'xterm-desktop',
      vnc: { enabled: true, port: 5900, resolution: '1024x768', color_depth: 24 },
      persistent_home: false,
      environment: {},
      ...agent.startData,
    };
  });
  test.after.always(async () => {
    await agent?.stop();
    await plane?.close();
  });

  async function viewStream(): Promise<{ proxyId: string; ready: AgentFrame }> {
    const proxyId = randomUUID();
    const from = plane.messages.length;
    plane.send({ type: 'vnc_proxy_request', session_id: sessionId, proxy_id: proxyId, data: {} });
    const ready = await plane.next((m) => m.proxy_id === proxyId && (m.type === 'vnc_proxy_ready' || m.type === 'vnc_proxy_error'), 10_000, from);
    return { proxyId, ready };
  }

  test.serial(`${name}: registers with its id, platform, capacity and version, then heartbeats its current sessions`, async (t) => {
    const register = await plane.next((m) => m.type === 'register');
    t.is(register.agent_id, agentId);
    t.is(register.platform, agent.platform);
    t.true(Number.isInteger((register.capacity as { max_sessions?: number }).max_sessions));
    t.is(typeof (register.metadata as { agent_version?: unknown }).agent_version, 'string');
    t.deepEqual(register.sessions, [], 'the inventory: no sessions yet');
    const beat = await plane.next((m) => m.type === 'heartbeat');
    t.is((beat.capacity as { current_sessions?: number }).current_sessions, 0);
  });

  test.serial(`${name}: start_session is acknowledged, then completed with the VNC port; a re-sent command id and a second start answer the same desktop`, async (t) => {
    const before = plane.messages.length;
    plane.command('start-1', 'start_session', sessionId, startData);
    const first = await plane.result('start-1', 30_000);
    const ackAt = plane.messages.findIndex((m) => m.type === 'command_ack' && m.command_id === 'start-1');
    t.true(ackAt >= 0 && ackAt < plane.messages.indexOf(first), 'acknowledged before its result');
    t.is(first.status, 'completed', JSON.stringify(first));
    const port = (first.result as { vnc_port?: unknown }).vnc_port;
    t.true(typeof port === 'number' && port > 0);

    plane.command('start-1', 'start_session', sessionId, startData);
    await plane.next((m) => isResult('start-1')(m) && m !== first);
    t.deepEqual(plane.results('start-1')[1]?.result, first.result, 'the same command id gets the first result again');

    plane.command('start-2', 'start_session', sessionId, startData);
    const again = await plane.result('start-2', 30_000);
    t.is(again.status, 'completed');
    t.is((again.result as { vnc_port?: unknown }).vnc_port, port, 'no second desktop');
    const beat = await plane.next((m) => m.type === 'heartbeat', 5000, plane.messages.length);
    t.is((beat.capacity as { current_sessions?: number }).current_sessions, 1);
    // (A desktop agent may first tell it `starting`.)
    const told = await plane.next((m) => m.type === 'heartbeat' && Array.isArray(m.sessions) && (m.sessions as Array<{ state?: unknown }>)[0]?.state === 'running', 5000, before);
    t.deepEqual(told.sessions, [{ session_id: sessionId, state: 'running', vnc_port: port }], 'a heartbeat tells the changed inventory');
    const later = plane.messages.filter((m, i) => i > plane.messages.indexOf(told) && m.type === 'heartbeat');
    t.true(
      later.every((m) => m.sessions === undefined),
      'and only once: unchanged, heartbeats carry no list',
    );
  });

  test.serial(`${name}: a VNC stream opens to the session's server (RFB greeting in binary frames) and closes on vnc_proxy_close; an unknown session gets vnc_proxy_error`, async (t) => {
    const { proxyId, ready } = await viewStream();
    t.is(ready.type, 'vnc_proxy_ready');
    const greeting = await plane.streamBytes(proxyId, 12);
    t.regex(greeting.subarray(0, 12).toString('latin1'), /^RFB 003\.00\d\n$/);
    plane.send({ type: 'vnc_proxy_close', proxy_id: proxyId, reason: 'viewer left' });

    const unknown = randomUUID();
    const from = plane.messages.length;
    plane.send({ type: 'vnc_proxy_request', session_id: randomUUID(), proxy_id: unknown, data: {} });
    const refused = await plane.next((m) => m.proxy_id === unknown, 5000, from);
    t.is(refused.type, 'vnc_proxy_error');
  });

  test.serial(`${name}: bytes a viewer sends reach the VNC server and are answered`, async (t) => {
    const { proxyId, ready } = await viewStream();
    t.is(ready.type, 'vnc_proxy_ready');
    await plane.streamBytes(proxyId, 12);
    // Our RFB version, then security type 1 (None): a real server answers with its types and
    // the security result; the simulator echoes what follows the version.
    plane.socketSend(encodeVncFrame(proxyId, Buffer.concat([Buffer.from('RFB 003.008\n', 'latin1'), Buffer.from([1])])));
    const more = await plane.streamBytes(proxyId, 13);
    t.true(more.length >= 13, 'the server answered what the viewer sent');
    plane.send({ type: 'vnc_proxy_close', proxy_id: proxyId, reason: 'done' });
  });

  test.serial(`${name}: get_session_logs answers lines, tail limits them`, async (t) => {
    plane.command('logs-1', 'get_session_logs', sessionId, { tail: 100, timestamps: false });
    const all = await plane.result('logs-1');
    t.is(all.status, 'completed');
    const lines = (all.result as { logs: unknown[] }).logs;
    t.true(Array.isArray(lines) && lines.length > 0);
    plane.command('logs-2', 'get_session_logs', sessionId, { tail: 1 });
    t.true(((await plane.result('logs-2')).result as { logs: unknown[] }).logs.length <= 1);
  });

  test.serial(`${name}: hibernate ends the VNC server and the count; wake brings it back`, async (t) => {
    plane.command('hib-1', 'hibernate_session', sessionId, { name: startData.name });
    t.is((await plane.result('hib-1', 30_000)).status, 'completed');
    t.is((await viewStream()).ready.type, 'vnc_proxy_error');
    const beat = await plane.next((m) => m.type === 'heartbeat', 5000, plane.messages.length);
    t.is((beat.capacity as { current_sessions?: number }).current_sessions, 0);

    plane.command('wake-1', 'wake_session', sessionId, { name: startData.name });
    const woke = await plane.result('wake-1', 30_000);
    t.is(woke.status, 'completed');
    t.is(typeof (woke.result as { vnc_port?: unknown }).vnc_port, 'number');
    t.is((await viewStream()).ready.type, 'vnc_proxy_ready');
  });

  test.serial(`${name}: an unknown command type and a command for an unknown session fail with their codes`, async (t) => {
    plane.command('odd-1', 'resize_session', sessionId);
    t.like(await plane.result('odd-1'), { status: 'failed', error_code: 'UNSUPPORTED_COMMAND' });
    plane.command('odd-2', 'hibernate_session', randomUUID());
    t.like(await plane.result('odd-2'), { status: 'failed', error_code: 'SESSION_NOT_FOUND' });
  });

  test.serial(`${name}: a connection closed as stale (4408) is replaced: the agent reconnects, registers and keeps its session`, async (t) => {
    const before = plane.connections;
    const from = plane.messages.length;
    plane.closeAgent(4408, 'stale');
    const register = await plane.next((m) => m.type === 'register', 10_000, from);
    t.is(plane.connections, before + 1);
    t.like((register.sessions as unknown[])[0], { session_id: sessionId, state: 'running' }, 'the new register tells the session it kept');
    t.is((await viewStream()).ready.type, 'vnc_proxy_ready', 'the session survived the reconnect');
  });

  test.serial(`${name}: stop_session ends the session for good`, async (t) => {
    const from = plane.messages.length;
    plane.command('stop-1', 'stop_session', sessionId, { graceful: true, timeout: '30s' });
    t.is((await plane.result('stop-1', 30_000)).status, 'completed');
    t.is((await viewStream()).ready.type, 'vnc_proxy_error');
    plane.command('stop-2', 'get_session_logs', sessionId, {});
    t.like(await plane.result('stop-2'), { status: 'failed', error_code: 'SESSION_NOT_FOUND' });
    const emptied = await plane.next((m) => m.type === 'heartbeat' && Array.isArray(m.sessions) && m.sessions.length === 0, 5000, from);
    t.deepEqual(emptied.sessions, []);
  });

  test.serial(`${name}: a stop or forced stop of a session it does not have answers SESSION_NOT_FOUND (the control plane counts that as done)`, async (t) => {
    plane.command('stop-3', 'stop_session', randomUUID(), { graceful: true, timeout: '30s' });
    t.like(await plane.result('stop-3'), { status: 'failed', error_code: 'SESSION_NOT_FOUND' });
    plane.command('stop-4', 'stop_session', sessionId, { graceful: false, timeout: '0s' });
    t.like(await plane.result('stop-4'), { status: 'failed', error_code: 'SESSION_NOT_FOUND' });
  });
}
