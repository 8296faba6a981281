import { launchDesktop } from './desktop-launch.ts';
import { isAlive, stopGroup } from './desktop-processes.ts';
import { desktopSpec } from './desktop-spec.ts';
import { DesktopStore, safeSessionId, type DesktopRecord } from './desktop-store.ts';
import { PerKeyQueue } from './per-key-queue.ts';
import { byId, failed, type CommandOutcome, type InventoryItem, type SessionBackend, type SessionReport } from './streamspace-session-backend.ts';

export interface DesktopSessionsOptions {
  dataDir: string;
  maxSessions: number;
  /** PATH for the desktops' processes (default: the agent's). */
  path?: string;
  xvncBinary?: string;
  /** How often the processes of running desktops are checked (a crash shows within this). */
  watchEveryMs?: number;
  /** Agent-level lines (not a session's), one JSON object each. */
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

/**
 * Real desktops: per session a TigerVNC Xvnc on 127.0.0.1 and the template's command in its
 * display, with a home under the data directory. The records on disk let a restarted agent
 * adopt the desktops still running and report the ones that ended meanwhile, never start a
 * second one for the same session.
 */
export class DesktopSessions implements SessionBackend {
  private readonly store: DesktopStore;
  private readonly records = new Map<string, DesktopRecord>();
  private readonly queue = new PerKeyQueue();
  private readonly listeners: Array<(report: SessionReport) => void> = [];
  private readonly path: string;
  private watch: NodeJS.Timeout | null = null;

  constructor(private readonly options: DesktopSessionsOptions) {
    this.store = new DesktopStore(options.dataDir);
    this.path = options.path ?? process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin';
  }

  /** Reads the records on disk: live desktops are adopted, ended ones reported; then watches them. */
  async open(): Promise<void> {
    if (this.watch) return;
    const log = this.options.log ?? (() => {});
    for (const record of this.store.load((id, why) => log('unreadable session record', { session_id: id, error: why }))) {
      this.records.set(record.sessionId, record);
      if (record.state !== 'running' && record.state !== 'starting') continue;
      if (record.state === 'running' && isAlive(record.xvnc) && isAlive(record.app)) {
        this.store.append(record.sessionId, `agent restarted: adopted the running desktop (display :${record.display}, port ${record.port})`);
        log('adopted session', { session_id: record.sessionId, display: record.display, vnc_port: record.port });
        continue;
      }
      await this.halt(record);
      const reason = 'the desktop was not running when the agent started again (its processes had ended); its home is kept: wake it to start it again';
      this.save(record, { state: 'hibernated' });
      this.store.append(record.sessionId, reason);
      log('session found stopped', { session_id: record.sessionId });
      this.tell({ sessionId: record.sessionId, state: 'hibernated', reason });
    }
    this.watch = setInterval(() => this.checkRunning(), this.options.watchEveryMs ?? 500);
  }

  get running(): number {
    let n = 0;
    for (const r of this.records.values()) if (r.state === 'running' || r.state === 'starting') n += 1;
    return n;
  }

  vncPort(sessionId: string): number | null {
    const record = this.records.get(sessionId);
    return record?.state === 'running' ? record.port : null;
  }

  inventory(): InventoryItem[] {
    return [...this.records.values()].map((r) => ({ session_id: r.sessionId, state: r.state, vnc_port: r.state === 'running' ? r.port : null })).sort(byId);
  }

  /** The sessions on this agent and their state, for tests and operators. */
  snapshot(): Map<string, { state: DesktopRecord['state']; port: number | null; home: string }> {
    return new Map([...this.records].map(([id, r]) => [id, { state: r.state, port: r.port, home: this.store.home(id) }]));
  }

  onReport(listener: (report: SessionReport) => void): void {
    this.listeners.push(listener);
  }

  execute(commandType: string, sessionId: string | null, data: Record<string, unknown>): Promise<CommandOutcome> {
    if (!sessionId || !safeSessionId(sessionId)) return Promise.resolve(failed(`invalid session_id ${JSON.stringify(sessionId)}`, 'INVALID_COMMAND'));
    return this.queue.run(sessionId, () => this.run(commandType, sessionId, data)).catch((err: unknown) => failed(err instanceof Error ? err.message : String(err), 'AGENT_ERROR'));
  }

  /** Stops watching; the desktops keep running for the next agent to adopt (`endSessions` stops them too). */
  async close(endSessions = false): Promise<void> {
    if (this.watch) clearInterval(this.watch);
    this.watch = null;
    await this.queue.idle();
    if (!endSessions) return;
    await Promise.all(
      [...this.records.values()].map(async (r) => {
        await this.halt(r);
        this.store.remove(r.sessionId, r.spec.persistentHome);
      }),
    );
    this.records.clear();
  }

  private async run(commandType: string, sessionId: string, data: Record<string, unknown>): Promise<CommandOutcome> {
    const record = this.records.get(sessionId);
    switch (commandType) {
      case 'start_session': {
        if (record) return record.state === 'running' ? this.started(record) : this.startDesktop(record);
        const spec = desktopSpec(sessionId, data, this.path);
        if ('error' in spec) return failed(spec.error, spec.error_code);
        const fresh: DesktopRecord = { sessionId, spec, state: 'hibernated', display: null, port: null, xvnc: null, app: null, startedAt: null };
        this.save(fresh, {});
        this.store.append(sessionId, `session ${spec.name} created from template '${spec.template}' (home ${this.store.home(sessionId)})`);
        // Created hibernated: the home exists, nothing runs until a wake.
        if (data.state === 'hibernated') return { status: 'completed', result: { session_id: sessionId, pod_name: `${spec.name}-local`, hibernated_at: new Date().toISOString() } };
        return this.startDesktop(fresh);
      }
      case 'wake_session':
        if (!record) return notHere(sessionId);
        return record.state === 'running' ? this.started(record) : this.startDesktop(record);
      case 'hibernate_session':
        if (!record) return notHere(sessionId);
        await this.halt(record);
        this.save(record, { state: 'hibernated' });
        this.store.append(sessionId, 'session hibernated: its processes stopped, its home is kept');
        return { status: 'completed', result: { session_id: sessionId, hibernated_at: new Date().toISOString() } };
      case 'stop_session':
        if (!record) return notHere(sessionId);
        await this.halt(record);
        this.records.delete(sessionId);
        this.store.remove(sessionId, record.spec.persistentHome);
        return { status: 'completed', result: { session_id: sessionId, stopped_at: new Date().toISOString() } };
      case 'get_session_logs': {
        if (!record) return notHere(sessionId);
        const tail = typeof data.tail === 'number' && Number.isInteger(data.tail) && data.tail >= 0 ? data.tail : undefined;
        return { status: 'completed', result: { logs: this.store.logs(sessionId, tail, data.timestamps === true) } };
      }
      default:
        return failed(`unsupported command_type "${commandType}"`, 'UNSUPPORTED_COMMAND');
    }
  }

  private async startDesktop(record: DesktopRecord): Promise<CommandOutcome> {
    if (this.running >= this.options.maxSessions) return failed(`agent is at max_sessions (${this.options.maxSessions}); hibernate or end a session first`, 'AGENT_CAPACITY_EXCEEDED');
    this.save(record, { state: 'starting', display: null, port: null, xvnc: null, app: null });
    const taken = new Set([...this.records.values()].map((r) => r.display).filter((d): d is number => d !== null));
    const logFd = this.store.openLog(record.sessionId);
    try {
      const desktop = await launchDesktop({
        spec: record.spec,
        home: this.store.home(record.sessionId),
        logFd,
        takenDisplays: taken,
        path: this.path,
        xvncBinary: this.options.xvncBinary,
        log: (line) => this.store.append(record.sessionId, line),
      });
      this.save(record, { state: 'running', ...desktop, startedAt: new Date().toISOString() });
      return this.started(record);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.save(record, { state: 'failed' });
      this.store.append(record.sessionId, `start failed: ${reason}`);
      return failed(`the desktop did not start: ${reason}; see the session logs`, 'SESSION_START_FAILED');
    } finally {
      this.store.closeLog(logFd);
    }
  }

  private started(record: DesktopRecord): CommandOutcome {
    return {
      status: 'completed',
      result: { session_id: record.sessionId, pod_ip: '127.0.0.1', pod_name: `${record.spec.name}-local`, vnc_port: record.port, display: `:${record.display}`, started_at: record.startedAt },
    };
  }

  /** Stops both process groups (the app first, so it can save before its display goes). */
  private async halt(record: DesktopRecord): Promise<void> {
    await stopGroup(record.app);
    await stopGroup(record.xvnc);
    this.save(record, { xvnc: null, app: null, display: null, port: null });
  }

  /** A running desktop whose Xvnc or app ended by itself has crashed: the rest is stopped and the session fails. */
  private checkRunning(): void {
    for (const record of this.records.values()) {
      if (record.state !== 'running') continue;
      const xvncUp = isAlive(record.xvnc);
      if (xvncUp && isAlive(record.app)) continue;
      const reason = xvncUp ? `the session's command ended (${record.spec.command}); the desktop is stopped` : `Xvnc (display :${record.display}) ended unexpectedly; the desktop is stopped`;
      // Queued with the session's commands, so a hibernate already under way is not taken for a crash.
      void this.queue.run(record.sessionId, async () => {
        if (this.records.get(record.sessionId) !== record || record.state !== 'running' || (isAlive(record.xvnc) && isAlive(record.app))) return;
        await this.halt(record);
        this.save(record, { state: 'failed' });
        this.store.append(record.sessionId, `session failed: ${reason}`);
        this.options.log?.('session failed', { session_id: record.sessionId, reason });
        this.tell({ sessionId: record.sessionId, state: 'failed', reason });
      });
    }
  }

  private save(record: DesktopRecord, changes: Partial<DesktopRecord>): void {
    Object.assign(record, changes);
    this.records.set(record.sessionId, record);
    this.store.save(record);
  }

  private tell(report: SessionReport): void {
    for (const listener of this.listeners) listener(report);
  }
}

function notHere(sessionId: string): CommandOutcome {
  return failed(`session ${sessionId} not found on this agent`, 'SESSION_NOT_FOUND');
}
