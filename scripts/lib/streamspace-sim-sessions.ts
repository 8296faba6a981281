import { PerKeyQueue } from './per-key-queue.ts';
import { byId, failed as fail, type CommandOutcome, type InventoryItem, type SessionBackend } from './streamspace-session-backend.ts';
import { startSimVnc, type SimVncMode, type SimVncServer } from './streamspace-sim-vnc.ts';

export type SimSessionState = 'running' | 'hibernated';

/** The public view of a session: its state and, while running, its VNC port. */
export interface SimSessionInfo {
  state: SimSessionState;
  port: number | null;
}

interface SimSession {
  name: string;
  state: SimSessionState;
  server: SimVncServer | null;
  logs: Array<{ at: Date; line: string }>;
}

/** Oldest lines go beyond this, so a long-running simulated session does not grow without bound. */
const maxLogLines = 1000;

/**
 * The simulated sessions of one agent and the session commands on them. Commands on one
 * session run one after another (a hibernate must not interleave with the start still opening
 * its port); sessions are independent of each other.
 */
export class SimSessions implements SessionBackend {
  private readonly sessions = new Map<string, SimSession>();
  private readonly queue = new PerKeyQueue();

  constructor(
    private readonly mode: SimVncMode,
    private readonly maxSessions: number,
  ) {}

  get running(): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.state === 'running') n += 1;
    return n;
  }

  inventory(): InventoryItem[] {
    return [...this.sessions].map(([id, s]) => ({ session_id: id, state: s.state, vnc_port: s.server?.port ?? null })).sort(byId);
  }

  snapshot(): Map<string, SimSessionInfo> {
    return new Map([...this.sessions].map(([id, s]) => [id, { state: s.state, port: s.server?.port ?? null }]));
  }

  /** The port of a running session's VNC server, or null. */
  vncPort(sessionId: string): number | null {
    return this.sessions.get(sessionId)?.server?.port ?? null;
  }

  /** Bytes a session's VNC server has written to its viewers, or null when it has none. */
  vncBytesSent(sessionId: string): number | null {
    return this.sessions.get(sessionId)?.server?.bytesSent() ?? null;
  }

  execute(commandType: string, sessionId: string | null, data: Record<string, unknown>): Promise<CommandOutcome> {
    if (!sessionId) return Promise.resolve(fail('command has no session_id', 'INVALID_COMMAND'));
    return this.queue.run(sessionId, () => this.run(commandType, sessionId, data)).catch((err: unknown) => fail(err instanceof Error ? err.message : String(err), 'SIMULATED_AGENT_ERROR'));
  }

  /** Fake sessions never change by themselves. */
  onReport(): void {}

  async close(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => s.server?.close()));
    this.sessions.clear();
  }

  private async run(commandType: string, sessionId: string, data: Record<string, unknown>): Promise<CommandOutcome> {
    const session = this.sessions.get(sessionId);
    const now = (): string => new Date().toISOString();
    if (commandType === 'start_session') {
      if (session?.state === 'running') return this.started(sessionId, session); // a repeat: already done
      if (this.running >= this.maxSessions) return fail(`agent is at max_sessions (${this.maxSessions})`, 'AGENT_CAPACITY_EXCEEDED');
      const name = typeof data.name === 'string' && data.name !== '' ? data.name : sessionId;
      const fresh: SimSession = session ?? { name, state: 'hibernated', server: null, logs: [] };
      this.sessions.set(sessionId, fresh);
      this.append(fresh, `Session ${name} starting (simulated)`);
      // Created hibernated (the control plane's `state: hibernated`): provisioned, scaled to zero.
      if (data.state === 'hibernated') return { status: 'completed', result: { session_id: sessionId, pod_name: `${name}-sim`, hibernated_at: now() } };
      return this.startServer(sessionId, fresh);
    }
    if (commandType !== 'hibernate_session' && commandType !== 'wake_session' && commandType !== 'stop_session' && commandType !== 'get_session_logs') {
      return fail(`unsupported command_type "${commandType}"`, 'UNSUPPORTED_COMMAND');
    }
    if (!session) return fail(`session ${sessionId} not found on this agent`, 'SESSION_NOT_FOUND');
    switch (commandType) {
      case 'hibernate_session':
        await this.stopServer(session);
        session.state = 'hibernated';
        this.append(session, 'Session hibernated');
        return { status: 'completed', result: { session_id: sessionId, hibernated_at: now() } };
      case 'wake_session':
        if (session.state === 'running') return this.started(sessionId, session);
        this.append(session, 'Session waking');
        return this.startServer(sessionId, session);
      case 'stop_session':
        await this.stopServer(session);
        this.sessions.delete(sessionId);
        return { status: 'completed', result: { session_id: sessionId, stopped_at: now() } };
      case 'get_session_logs':
        return { status: 'completed', result: { logs: this.logs(session, data) } };
    }
  }

  private async startServer(sessionId: string, session: SimSession): Promise<CommandOutcome> {
    session.server = await startSimVnc(this.mode, (line) => this.append(session, line));
    session.state = 'running';
    return this.started(sessionId, session);
  }

  private started(sessionId: string, session: SimSession): CommandOutcome {
    return {
      status: 'completed',
      result: { session_id: sessionId, pod_ip: '127.0.0.1', pod_name: `${session.name}-sim`, vnc_port: session.server?.port ?? null, started_at: new Date().toISOString() },
    };
  }

  private async stopServer(session: SimSession): Promise<void> {
    const server = session.server;
    session.server = null;
    await server?.close();
  }

  private append(session: SimSession, line: string): void {
    session.logs.push({ at: new Date(), line });
    if (session.logs.length > maxLogLines) session.logs.splice(0, session.logs.length - maxLogLines);
  }

  /** Addendum "Session logs": data.tail (last N lines, default all) and data.timestamps (default false). */
  private logs(session: SimSession, data: Record<string, unknown>): string[] {
    const tail = typeof data.tail === 'number' && Number.isInteger(data.tail) && data.tail >= 0 ? data.tail : session.logs.length;
    const lines = tail === 0 ? [] : session.logs.slice(-tail);
    return lines.map((l) => (data.timestamps === true ? `${l.at.toISOString()} ${l.line}` : l.line));
  }
}
