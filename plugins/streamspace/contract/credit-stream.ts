import { encodeVncFrame, initialWindowBytes } from './vnc-frames.ts';

/** The local end of a VNC stream: the viewer's WebSocket (control plane) or the TCP socket to the VNC server (agent). */
export interface LocalEnd {
  /** Writes bytes onward; `written` runs once they have left our buffers (the basis for granting credit). */
  write(data: Buffer, written: () => void): void;
  /** Stops / restarts reading from the local end (backpressure toward its sender). */
  pause(): void;
  resume(): void;
}

/** How a stream reaches the other side of the agent socket. */
export interface Tunnel {
  sendFrame(frame: Buffer): void;
  sendWindow(proxyId: string, bytes: number): void;
}

export interface CreditStreamOptions {
  windowBytes?: number;
  /** Grant credit back once this many bytes were delivered since the last grant. */
  grantBytes?: number;
  /** Hold local bytes (within the window) until `release()`: the viewer may type before the agent's stream is ready. */
  held?: boolean;
}

/**
 * One direction-pair of a multiplexed VNC stream with per-stream credit (addendum "VNC
 * streams"): we send at most `window` bytes the other side has not granted back, and grant
 * back only what we have delivered onward. Out of credit, we stop reading the local end; we
 * never drop bytes. A peer that sends beyond the credit it was given breaks the protocol,
 * and the stream is ended rather than buffered without bound.
 */
export class CreditStream {
  private credit: number;
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private paused = false;
  /** Bytes received from the tunnel and not yet granted back (delivered or still buffered). */
  private outstanding = 0;
  private deliveredUngranted = 0;
  private closed = false;
  private held: boolean;
  readonly window: number;
  private readonly grantBytes: number;
  bytesIn = 0;
  bytesOut = 0;

  constructor(
    readonly proxyId: string,
    private readonly tunnel: Tunnel,
    private readonly local: LocalEnd,
    options: CreditStreamOptions = {},
  ) {
    this.window = options.windowBytes ?? initialWindowBytes;
    this.credit = this.window;
    this.held = options.held ?? false;
    this.grantBytes = Math.min(options.grantBytes ?? 64 * 1024, this.window);
  }

  /** Bytes read from the local end, to send through the tunnel. */
  fromLocal(data: Buffer): void {
    if (this.closed || data.length === 0) return;
    this.queue.push(data);
    this.queued += data.length;
    this.flush();
  }

  /**
   * Bytes that arrived through the tunnel. False when the peer overran its credit (the
   * caller ends the stream).
   */
  fromTunnel(payload: Buffer): boolean {
    if (this.closed) return true;
    if (this.outstanding + payload.length > this.window) return false;
    this.outstanding += payload.length;
    this.bytesIn += payload.length;
    this.local.write(payload, () => this.delivered(payload.length));
    return true;
  }

  /** The peer granted more credit. */
  onWindow(bytes: number): void {
    if (this.closed) return;
    this.credit = Math.min(this.credit + bytes, this.window);
    this.flush();
  }

  /** The other side is ready: held bytes go now. */
  release(): void {
    this.held = false;
    this.flush();
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
    this.queued = 0;
  }

  get bufferedBytes(): number {
    return this.queued;
  }

  private delivered(bytes: number): void {
    if (this.closed) return;
    this.deliveredUngranted += bytes;
    // Grant in batches. The peer is stuck only with a whole window outstanding, and a whole
    // window is at least one batch, so batching never deadlocks.
    if (this.deliveredUngranted >= this.grantBytes) {
      const grant = this.deliveredUngranted;
      this.deliveredUngranted = 0;
      this.outstanding -= grant;
      this.tunnel.sendWindow(this.proxyId, grant);
    }
  }

  private flush(): void {
    if (this.held) {
      if (this.queued >= this.window && !this.paused) {
        this.paused = true;
        this.local.pause();
      }
      return;
    }
    while (this.queue.length > 0 && this.credit > 0) {
      const head = this.queue[0] as Buffer;
      const take = Math.min(head.length, this.credit);
      const chunk = head.subarray(0, take);
      if (take === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(take);
      this.queued -= take;
      this.credit -= take;
      this.bytesOut += take;
      this.tunnel.sendFrame(encodeVncFrame(this.proxyId, chunk));
    }
    if (this.queue.length > 0 && !this.paused) {
      this.paused = true;
      this.local.pause();
    } else if (this.queue.length === 0 && this.paused) {
      this.paused = false;
      this.local.resume();
    }
  }
}
