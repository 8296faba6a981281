import { WebSocket, type RawData } from 'ws';
import { intervalMs, parseControlMessage, type AgentCommand, type ReceivedControlMessage } from '../../plugins/streamspace/contract/control-messages.ts';
import { CommandRunner, type CommandRunnerOptions } from './streamspace-command-runner.ts';
import { VncProxies } from './streamspace-agent-proxies.ts';
import type { CommandOutcome, SessionBackend, SessionReport } from './streamspace-session-backend.ts';
import { agentSocketUrl, closeGracefully, sendJson } from './streamspace-agent-socket.ts';
import { resolveAgentOptions, type AgentConnectionOptions, type ResolvedAgentOptions } from './streamspace-agent-options.ts';

// Importers (the simulator, the desktop agent) keep importing the options from here.
export type { AgentConnectionOptions } from './streamspace-agent-options.ts';

interface Connection {
  ws: WebSocket;
  proxies: VncProxies;
  heartbeat: NodeJS.Timeout | null;
  onRegistered: () => void;
}

const registerTimeoutMs = 10_000;

/**
 * The agent's side of the StreamSpace agent protocol (docs/streamspace.md, "Agents"):
 * registers, heartbeats, runs each command once on a SessionBackend with durable acks and
 * results, relays VNC streams with per-stream credit, tells `session_status` changes, and
 * reconnects. The simulator and the desktop agent differ only in their backend.
 */
export class AgentConnection {
  private readonly opts: ResolvedAgentOptions;
  private readonly commands: AgentCommand[] = [];
  private readonly runner: CommandRunner;
  /** Reports made while disconnected, sent after the next register_ack. */
  private readonly unsentReports: SessionReport[] = [];
  private conn: Connection | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private heartbeatsOn = true;
  private stopped = false;
  private intervalMs = 10_000;
  private isRegistered = false;
  /** The inventory as last told (register or heartbeat), as JSON: a heartbeat carries it again only when it differs. */
  private toldInventory = '';

  constructor(
    private readonly options: AgentConnectionOptions,
    private readonly backend: SessionBackend,
    running: CommandRunnerOptions = { delayMs: 0, failureRate: 0, failCommands: [] },
  ) {
    this.opts = resolveAgentOptions(options);
    this.runner = new CommandRunner(running, backend);
    backend.onReport((report) => this.report(report));
  }

  /** Every command message received, in order, re-sent ones included. */
  get receivedCommands(): readonly AgentCommand[] {
    return this.commands;
  }

  /** Connected and answered with register_ack (false after a drop until the next one). */
  get registered(): boolean {
    return this.isRegistered;
  }

  /** From the last register_ack (10 s until one arrives). */
  get heartbeatIntervalMs(): number {
    return this.intervalMs;
  }

  /** Connects and registers; resolves on register_ack. */
  start(): Promise<void> {
    if (this.conn) return Promise.reject(new Error('already started'));
    this.stopped = false;
    return this.connect();
  }

  /** Closes the agent socket and every VNC stream, then the backend. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const conn = this.detach();
    await Promise.all([conn ? closeGracefully(conn.ws) : null, this.runner.stop()]);
    await this.backend.close();
    this.log('stopped');
  }

  /** A network cut: the socket goes at once, its VNC streams with it; sessions keep running. */
  drop(): void {
    const conn = this.detach();
    conn?.ws.terminate();
    if (conn) this.log('dropped');
  }

  reconnect(): Promise<void> {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.drop();
    this.stopped = false;
    return this.connect();
  }

  /** False simulates an agent that stays connected but silent. */
  setHeartbeats(enabled: boolean): void {
    this.heartbeatsOn = enabled;
  }

  private connect(): Promise<void> {
    const url = agentSocketUrl(this.opts.url, this.opts.agentId, this.opts.platform, this.opts.region);
    // No permessage-deflate: VNC frames are mostly already compressed or raw pixels, and deflate would cost every byte twice.
    const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${this.opts.key}` }, perMessageDeflate: false });
    this.log('connecting', { url: url.replace(/\?.*/, '') });
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err: Error | null): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        // A failed attempt is over at once, so the caller may try again right away.
        if (err && this.conn === conn) this.detach();
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => {
        settle(new Error(`no register_ack within ${registerTimeoutMs} ms`));
        ws.terminate();
      }, registerTimeoutMs);
      const out = { sendJson: (m: Record<string, unknown>) => sendJson(ws, m), sendBinary: (f: Buffer) => ws.readyState === WebSocket.OPEN && ws.send(f) };
      const conn: Connection = { ws, proxies: new VncProxies(out, (msg, fields) => this.log(msg, fields)), heartbeat: null, onRegistered: () => settle(null) };
      this.conn = conn;

      ws.on('unexpected-response', (_req, res) => {
        res.resume();
        settle(new Error(`agent socket upgrade refused: HTTP ${res.statusCode ?? '?'} ${res.statusMessage ?? ''}`.trim()));
        ws.terminate();
      });
      ws.on('open', () => {
        const capacity = { max_sessions: this.opts.maxSessions, max_cpu: this.opts.maxSessions, max_memory: this.opts.maxSessions * 2 };
        const sessions = this.backend.inventory();
        this.toldInventory = JSON.stringify(sessions);
        sendJson(ws, {
          type: 'register',
          agent_id: this.opts.agentId,
          platform: this.opts.platform,
          ...(this.opts.region ? { region: this.opts.region } : {}),
          capacity,
          metadata: this.opts.metadata,
          sessions,
        });
      });
      ws.on('message', (data, isBinary) => {
        if (this.conn === conn) this.onMessage(conn, data, isBinary);
      });
      ws.on('error', (err) => {
        if (!settled || this.conn === conn) this.log('socket error', { error: err.message });
        settle(err);
      });
      ws.on('close', (code, reason) => {
        settle(new Error(`agent socket closed before register_ack: ${code} ${reason.toString()}`.trim()));
        this.onClosed(conn, code, reason.toString());
      });
    });
  }

  /** Makes the current connection no longer current; its streams end, its heartbeat stops. */
  private detach(): Connection | null {
    const conn = this.conn;
    if (!conn) return null;
    this.conn = null;
    this.isRegistered = false;
    if (conn.heartbeat) clearInterval(conn.heartbeat);
    conn.proxies.closeAll();
    return conn;
  }

  private onClosed(conn: Connection, code: number, reason: string): void {
    if (this.conn !== conn) return; // detached on purpose (drop, reconnect, stop)
    const wasRegistered = this.isRegistered;
    this.detach();
    this.log('disconnected', { code, reason });
    if (wasRegistered && this.opts.autoReconnect && !this.stopped) this.retry(0);
  }

  private retry(attempt: number): void {
    const delay = Math.min(1000 * 2 ** attempt, 30_000);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.stopped || this.conn) return;
      this.connect().catch((err: unknown) => {
        this.log('reconnect failed', { error: err instanceof Error ? err.message : String(err), retry_in_ms: Math.min(1000 * 2 ** (attempt + 1), 30_000) });
        if (!this.stopped && !this.isRegistered) this.retry(attempt + 1);
      });
    }, delay);
  }

  private onMessage(conn: Connection, data: RawData, isBinary: boolean): void {
    const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    if (isBinary) return conn.proxies.onFrame(bytes);
    const parsed = parseControlMessage(bytes.toString('utf8'));
    if ('problem' in parsed) return this.log('ignored message', { problem: parsed.problem });
    const m: ReceivedControlMessage = parsed.message;
    switch (m.type) {
      case 'register_ack':
        return this.onRegisterAck(conn, m.heartbeat_interval);
      case 'command':
        return this.onCommand(conn, m);
      case 'vnc_proxy_request': {
        // Only a running session of ours is reachable; data.vnc_port (what our start result
        // reported) wins over the session's own port, so a test can aim at a dead port.
        const sessionPort = this.backend.vncPort(m.session_id);
        const requested = m.data?.vnc_port;
        const valid = typeof requested === 'number' && Number.isInteger(requested) && requested > 0 && requested < 65536;
        if (sessionPort === null) this.log('vnc stream refused', { proxy_id: m.proxy_id, session_id: m.session_id });
        return conn.proxies.open(m.proxy_id, sessionPort === null ? null : valid ? requested : sessionPort, `session ${m.session_id} is not running on this agent`);
      }
      case 'vnc_proxy_window':
        return conn.proxies.onWindow(m.proxy_id, m.bytes);
      case 'vnc_proxy_close':
        return conn.proxies.onClose(m.proxy_id);
    }
  }

  private onRegisterAck(conn: Connection, interval: string | undefined): void {
    const ms = interval === undefined ? null : intervalMs(interval);
    if (ms === null) this.log('unparsable heartbeat_interval, using 10s', { heartbeat_interval: interval ?? null });
    this.intervalMs = ms ?? 10_000;
    this.isRegistered = true;
    if (conn.heartbeat) clearInterval(conn.heartbeat);
    conn.heartbeat = setInterval(() => {
      if (!this.heartbeatsOn) return;
      const sessions = this.backend.inventory();
      const text = JSON.stringify(sessions);
      const changed = text !== this.toldInventory;
      if (
        sendJson(conn.ws, {
          type: 'heartbeat',
          agent_id: this.opts.agentId,
          timestamp: new Date().toISOString(),
          capacity: { current_sessions: this.backend.running },
          ...(changed ? { sessions } : {}),
        }) &&
        changed
      )
        this.toldInventory = text;
    }, this.intervalMs);
    this.log('registered', { agent_id: this.opts.agentId, heartbeat_interval: interval ?? null });
    for (const report of this.unsentReports.splice(0)) this.report(report);
    conn.onRegistered();
  }

  /** Tells the control plane now, or after the next registration when disconnected. */
  private report(report: SessionReport): void {
    const ws = this.isRegistered ? this.conn?.ws : undefined;
    const sent = ws ? sendJson(ws, { type: 'session_status', agent_id: this.opts.agentId, session_id: report.sessionId, state: report.state, reason: report.reason }) : false;
    if (!sent) this.unsentReports.push(report);
    this.log(sent ? 'session status' : 'session status queued (disconnected)', { session_id: report.sessionId, state: report.state, reason: report.reason });
  }

  private onCommand(conn: Connection, command: AgentCommand): void {
    this.commands.push(command);
    const { command_id, command_type } = command;
    if (this.opts.ackCommands) sendJson(conn.ws, { type: 'command_ack', command_id, agent_id: this.opts.agentId, status: 'acknowledged' });
    const { outcome, repeated } = this.runner.run(command);
    this.log(repeated ? 'command repeated' : 'command received', { command_id, command_type, session_id: command.session_id ?? null });
    void outcome.then((o) => this.sendResult(command_id, command_type, o));
  }

  private sendResult(commandId: string, commandType: string, outcome: CommandOutcome): void {
    // Whatever socket is current: a result that finishes after a reconnect still reaches the control plane.
    const ws = this.conn?.ws;
    const base = { type: 'command_result', command_id: commandId, agent_id: this.opts.agentId };
    const sent = ws ? sendJson(ws, outcome.status === 'completed' ? { ...base, status: 'completed', result: outcome.result } : { ...base, ...outcome }) : false;
    this.log(sent ? 'command result' : 'command result not sent (disconnected)', {
      command_id: commandId,
      command_type: commandType,
      status: outcome.status,
      ...(outcome.status === 'failed' ? { error_code: outcome.error_code } : {}),
    });
  }

  protected log(msg: string, fields: Record<string, unknown> = {}): void {
    this.options.log?.(JSON.stringify({ msg, ...fields }));
  }
}
