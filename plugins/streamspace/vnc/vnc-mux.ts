import type { WebSocket } from 'ws';
import type { Logger, Principal } from '../../../src/plugin-api/index.ts';
import { CreditStream } from '../contract/credit-stream.ts';
import type { ControlMessage } from '../contract/protocol.ts';
import { decodeVncFrame } from '../contract/vnc-frames.ts';

/** The agent connection a stream rides on, as the mux needs it. */
export interface AgentLink {
  connId: string;
  agentId: string;
  send(message: ControlMessage): void;
  sendBinary(frame: Buffer): void;
}

interface ViewerStream {
  proxyId: string;
  sessionId: string;
  userId: string;
  /** Who opened it, re-checked by the recheck job (demotion, deletion, a login ended without an event reaching us). */
  principal: Principal;
  /** The sign-in it was opened with (null for a single-use VNC token): logout of that sign-in closes it. */
  familyId: string | null;
  link: AgentLink;
  viewer: WebSocket;
  credit: CreditStream;
  ready: boolean;
  readyTimer: NodeJS.Timeout;
  lastActivityWrite: number;
}

export interface VncMuxOptions {
  readyTimeoutMs: number;
  activityWriteMs: number;
  /** Records VNC activity (for idle hibernation), at most every `activityWriteMs` per stream. */
  touch(sessionId: string): void;
  log: Logger;
}

/** Close codes a viewer sees. */
const closeCodes = { normal: 1000, error: 1011, goingAway: 1001 } as const;

const reasonText = (reason: string): string => Buffer.from(reason).subarray(0, 120).toString('utf8');

/**
 * The VNC streams of this replica, multiplexed over agent sockets by `proxy_id` (addendum
 * "VNC streams"): each viewer is its own stream with its own credit both ways, so a slow
 * viewer holds back only its own bytes, and a frame can only reach the stream it names on
 * the agent connection it belongs to.
 */
export class VncMux {
  private readonly streams = new Map<string, ViewerStream>();

  constructor(private readonly options: VncMuxOptions) {}

  viewersOf(sessionId: string): number {
    let n = 0;
    for (const s of this.streams.values()) if (s.sessionId === sessionId) n += 1;
    return n;
  }

  get size(): number {
    return this.streams.size;
  }

  open(input: { proxyId: string; sessionId: string; userId: string; principal: Principal; familyId: string | null; link: AgentLink; viewer: WebSocket; request: Record<string, unknown> }): void {
    const { proxyId, viewer, link } = input;
    const credit = new CreditStream(
      proxyId,
      { sendFrame: (frame) => link.sendBinary(frame), sendWindow: (id, bytes) => link.send({ type: 'vnc_proxy_window', proxy_id: id, bytes }) },
      {
        write: (data, written) => viewer.send(data, { binary: true }, (err) => (err ? undefined : written())),
        pause: () => viewer.pause(),
        resume: () => viewer.resume(),
      },
      { held: true },
    );
    const stream: ViewerStream = {
      ...input,
      credit,
      ready: false,
      lastActivityWrite: 0,
      readyTimer: setTimeout(() => this.end(stream, 'the agent did not open the VNC stream in time', true, closeCodes.error), this.options.readyTimeoutMs),
    };
    this.streams.set(proxyId, stream);
    viewer.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      credit.fromLocal(bytes);
      this.activity(stream);
    });
    viewer.on('close', () => this.end(stream, 'viewer closed', true, closeCodes.normal));
    link.send({ type: 'vnc_proxy_request', session_id: input.sessionId, proxy_id: proxyId, data: input.request });
    this.activity(stream);
  }

  /** A binary frame from an agent connection. */
  fromAgent(link: AgentLink, frame: Buffer): void {
    const decoded = decodeVncFrame(frame);
    const stream = decoded ? this.streams.get(decoded.proxyId) : undefined;
    if (!decoded || !stream || stream.link.connId !== link.connId) {
      this.options.log.debug({ agent_id: link.agentId }, 'dropped a VNC frame for no stream of this connection');
      return;
    }
    if (!stream.credit.fromTunnel(decoded.payload)) {
      this.options.log.warn({ agent_id: link.agentId, proxy_id: stream.proxyId }, 'agent overran its VNC credit; ending the stream');
      this.end(stream, 'flow control violated', true, closeCodes.error);
    }
  }

  /** `vnc_proxy_ready`, `_error`, `_window` and `_close` from an agent connection. */
  control(link: AgentLink, message: { type: string; proxy_id: string; bytes?: number; error?: string; reason?: string }): void {
    const stream = this.streams.get(message.proxy_id);
    if (!stream || stream.link.connId !== link.connId) return;
    if (message.type === 'vnc_proxy_ready') {
      stream.ready = true;
      clearTimeout(stream.readyTimer);
      stream.credit.release();
    } else if (message.type === 'vnc_proxy_window' && message.bytes !== undefined) {
      stream.credit.onWindow(message.bytes);
    } else if (message.type === 'vnc_proxy_error') {
      this.end(stream, message.error ?? 'the agent could not open the VNC stream', false, closeCodes.error);
    } else if (message.type === 'vnc_proxy_close') {
      this.end(stream, message.reason ?? 'closed by the agent', false, closeCodes.normal);
    }
  }

  /** The agent connection dropped: every stream on it ends. */
  linkGone(connId: string): void {
    for (const s of [...this.streams.values()]) if (s.link.connId === connId) this.end(s, 'agent disconnected', false, closeCodes.error);
  }

  closeSession(sessionId: string, reason: string): void {
    for (const s of [...this.streams.values()]) if (s.sessionId === sessionId) this.end(s, reason, true, closeCodes.normal);
  }

  /** Logout (those sign-ins), or disable / password reset (null: all of the user's viewers). */
  closeUser(userId: string, familyIds: readonly string[] | null): void {
    for (const s of [...this.streams.values()]) {
      if (s.userId !== userId) continue;
      if (familyIds !== null && (s.familyId === null || !familyIds.includes(s.familyId))) continue;
      this.end(s, 'your session ended', true, 4403);
    }
  }

  /** Closes the streams whose viewer may no longer see them: `allowed` answers per stream (the principal and the session). */
  async recheck(allowed: (principal: Principal, sessionId: string) => Promise<boolean>): Promise<number> {
    let closed = 0;
    for (const s of [...this.streams.values()]) {
      if (await allowed(s.principal, s.sessionId)) continue;
      this.end(s, 'you may no longer view this session', true, 4403);
      closed += 1;
    }
    return closed;
  }

  closeAll(): void {
    for (const s of [...this.streams.values()]) this.end(s, 'server shutting down', true, closeCodes.goingAway);
  }

  private end(stream: ViewerStream, reason: string, tellAgent: boolean, code: number): void {
    if (this.streams.get(stream.proxyId) !== stream) return;
    this.streams.delete(stream.proxyId);
    clearTimeout(stream.readyTimer);
    stream.credit.close();
    if (tellAgent) stream.link.send({ type: 'vnc_proxy_close', proxy_id: stream.proxyId, reason });
    if (stream.viewer.readyState === stream.viewer.OPEN || stream.viewer.readyState === stream.viewer.CONNECTING) stream.viewer.close(code, reasonText(reason));
  }

  private activity(stream: ViewerStream): void {
    const now = Date.now();
    if (now - stream.lastActivityWrite < this.options.activityWriteMs) return;
    stream.lastActivityWrite = now;
    this.options.touch(stream.sessionId);
  }
}
