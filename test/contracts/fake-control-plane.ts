import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { decodeVncFrame } from '../../plugins/streamspace/contract/vnc-frames.ts';

/** A text message from the agent, loosely (the suite asserts on the fields it needs). */
export type AgentFrame = Record<string, unknown> & { type: string };

/**
 * The control plane's side of the StreamSpace agent socket, by hand: a real WebSocket server
 * on port 0 that registers whatever agent connects and lets a test send exactly the frames
 * it wants (a re-sent command, a command for an unknown session) and read every answer.
 */
export class FakeControlPlane {
  readonly messages: AgentFrame[] = [];
  readonly binary: Array<{ proxyId: string; payload: Buffer }> = [];
  private socket: WebSocket | null = null;
  private readonly waiters = new Set<() => void>();
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  connections = 0;

  private constructor(readonly heartbeatInterval: string) {
    this.http = createServer((_req, res) => res.writeHead(404).end());
    this.wss = new WebSocketServer({ server: this.http, path: '/agent/ws' });
    this.wss.on('connection', (ws) => {
      this.connections += 1;
      this.socket = ws;
      ws.on('message', (data: Buffer, isBinary) => {
        if (isBinary) {
          const frame = decodeVncFrame(data);
          if (frame) this.binary.push({ proxyId: frame.proxyId, payload: Buffer.from(frame.payload) });
        } else {
          const message = JSON.parse(data.toString('utf8')) as AgentFrame;
          this.messages.push(message);
          if (message.type === 'register') this.send({ type: 'register_ack', agent_id: message.agent_id, status: 'registered', heartbeat_interval: this.heartbeatInterval });
        }
        for (const wake of [...this.waiters]) wake();
      });
    });
  }

  static async start(heartbeatInterval = '300ms'): Promise<FakeControlPlane> {
    const plane = new FakeControlPlane(heartbeatInterval);
    await new Promise<void>((resolve) => plane.http.listen(0, '127.0.0.1', resolve));
    return plane;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.http.address() as AddressInfo).port}`;
  }

  send(message: Record<string, unknown>): void {
    this.socket?.send(JSON.stringify(message));
  }

  socketSend(frame: Buffer): void {
    this.socket?.send(frame, { binary: true });
  }

  command(commandId: string, commandType: string, sessionId: string | null, data: Record<string, unknown> = {}): void {
    this.send({ type: 'command', command_id: commandId, command_type: commandType, session_id: sessionId, data });
  }

  /** Cuts the agent's socket with a close code, as the control plane does to a stale connection. */
  closeAgent(code: number, reason: string): void {
    this.socket?.close(code, reason);
  }

  /** The first message (after `from`) matching, waiting for it. */
  async next(match: (m: AgentFrame) => boolean, timeoutMs = 20_000, from = 0): Promise<AgentFrame> {
    const found = (): AgentFrame | undefined => this.messages.slice(from).find(match);
    return this.until(found, timeoutMs, 'a matching agent message');
  }

  results(commandId: string): AgentFrame[] {
    return this.messages.filter((m) => m.type === 'command_result' && m.command_id === commandId);
  }

  async result(commandId: string, timeoutMs = 20_000): Promise<AgentFrame> {
    return this.next((m) => m.type === 'command_result' && m.command_id === commandId, timeoutMs);
  }

  /** Bytes the agent relayed on a stream so far, waiting for at least `n`. */
  async streamBytes(proxyId: string, n: number, timeoutMs = 10_000): Promise<Buffer> {
    return this.until(
      () => {
        const bytes = Buffer.concat(this.binary.filter((f) => f.proxyId === proxyId).map((f) => f.payload));
        return bytes.length >= n ? bytes : undefined;
      },
      timeoutMs,
      `${n} bytes on stream ${proxyId}`,
    );
  }

  private until<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const value = probe();
        if (value === undefined) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(value);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.messages.slice(-5))}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  async close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}
