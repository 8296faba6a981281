import { agentSocketUrl } from '../../../scripts/lib/streamspace-sim-agent.ts';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { isRefusal, openSocket, type RefusedUpgrade, type TestSocket } from '../../helpers/ws-client.ts';
import { call, v1, waitFor, type V1Session } from './ss-helpers.ts';

/** A text frame from the control plane, as far as these tests look into it. */
export interface Frame {
  type?: string;
  command_id?: string;
  command_type?: string;
  session_id?: string;
  heartbeat_interval?: unknown;
}

/** An agent speaking the protocol by hand over `ws`, for what the simulated agent never does wrong. */
export interface RawAgent {
  agentId: string;
  platform: string;
  key: string;
  socket: TestSocket;
  send(message: Record<string, unknown>): void;
  heartbeat(currentSessions?: number): void;
  /** Command frames received so far, re-sent ones included. */
  commands(): Frame[];
  /** Closes (stops its heartbeats); resolves once the socket is closed. */
  close(): Promise<void>;
}

let counter = 0;
/** An id no other test uses (agent ids, platforms, regions). */
export function uniq(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 6)}`;
}

export async function issueKey(app: TestApp, admin: V1Session, agentId: string): Promise<string> {
  const res = await call(app, 'POST', `${v1}/admin/agent-keys`, admin.token, { agent_id: agentId });
  if (res.status !== 201) throw new Error(`issue key: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.key as string;
}

export function openAgentSocket(app: TestApp, agentId: string, platform: string, headers: Record<string, string>): Promise<TestSocket | RefusedUpgrade> {
  return openSocket(agentSocketUrl(app.url, agentId, platform, undefined), headers);
}

export const registerMessage = (agentId: string, platform: string, maxSessions = 10): Record<string, unknown> => ({
  type: 'register',
  agent_id: agentId,
  platform,
  capacity: { max_sessions: maxSessions, max_cpu: 8, max_memory: 16 },
  metadata: { agent_version: 'raw-test' },
});

/**
 * Connects with a fresh key (or `key`), registers and waits for register_ack. `keepAliveMs`
 * sends heartbeats that often, so a test longer than 3 intervals does not see it swept offline.
 */
export async function rawAgent(app: TestApp, admin: V1Session, opts: { agentId?: string; platform?: string; key?: string; keepAliveMs?: number } = {}): Promise<RawAgent> {
  const agentId = opts.agentId ?? uniq('raw');
  const platform = opts.platform ?? 'docker';
  const key = opts.key ?? (await issueKey(app, admin, agentId));
  const opened = await openAgentSocket(app, agentId, platform, { Authorization: `Bearer ${key}` });
  if (isRefusal(opened)) throw new Error(`upgrade refused: ${opened.status} ${JSON.stringify(opened.body)}`);
  const socket = opened;
  const send = (message: Record<string, unknown>): void => socket.send(message);
  let sessions = 0;
  const heartbeat = (currentSessions = sessions): void => {
    sessions = currentSessions;
    send({ type: 'heartbeat', agent_id: agentId, timestamp: new Date().toISOString(), capacity: { current_sessions: currentSessions } });
  };
  send(registerMessage(agentId, platform));
  await socket.waitFor((f) => (f as Frame).type === 'register_ack', 10_000, 'register_ack');
  const timer = opts.keepAliveMs ? setInterval(() => socket.ws.readyState === socket.ws.OPEN && heartbeat(), opts.keepAliveMs) : null;
  void socket.closed.then(() => timer && clearInterval(timer));
  return {
    agentId,
    platform,
    key,
    socket,
    send,
    heartbeat,
    commands: () => socket.frames.filter((f): f is Frame => (f as Frame).type === 'command'),
    close: async () => {
      if (timer) clearInterval(timer);
      const kill = setTimeout(() => socket.ws.terminate(), 1000);
      socket.ws.close(1000, 'test done');
      await socket.closed;
      clearTimeout(kill);
    },
  };
}

export interface AgentView {
  status: string;
  last_heartbeat: string | null;
  capacity: { current_sessions: number; max_sessions: number };
  sessions?: Array<{ id: string; name: string; user: string; template: string; state: string }>;
  uptime_seconds?: number | null;
}

export async function getAgent(app: TestApp, admin: V1Session, agentId: string): Promise<AgentView> {
  const res = await call(app, 'GET', `${v1}/agents/${agentId}`, admin.token);
  if (res.status !== 200) throw new Error(`GET agent ${agentId}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as AgentView;
}

export function waitAgent(app: TestApp, admin: V1Session, agentId: string, match: (a: AgentView) => boolean, what: string, timeoutMs = 10_000): Promise<AgentView> {
  return waitFor(
    `agent ${agentId}: ${what}`,
    async () => {
      const a = await getAgent(app, admin, agentId);
      return match(a) ? a : null;
    },
    timeoutMs,
  );
}

export interface CommandLogEntry {
  command_id: string;
  command_type: string;
  status: string;
}

export async function commandLog(app: TestApp, admin: V1Session, sessionId: string): Promise<CommandLogEntry[]> {
  const res = await call(app, 'GET', `${v1}/sessions/${sessionId}/commands`, admin.token);
  if (res.status !== 200) throw new Error(`command log: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.commands as CommandLogEntry[];
}
