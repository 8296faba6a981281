import { encodeVncFrame, initialWindowBytes, proxyIdBytes } from './vnc-frames.ts';

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
  /** Grant credit back once this many bytes were delivered since the last grant (default: half the window). */
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
  /** Frames ready to go (this stream's proxy id, then payload); `queued` counts their payload bytes. */
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
    // Half a window: one grant message per 512 KiB instead of one per read, and the peer still
    // has the other half in flight while the grant travels back.
    this.grantBytes = Math.min(options.grantBytes ?? Math.floor(this.window / 2), this.window);
  }

  /** Bytes read from the local end, to send through the tunnel (copied once, behind the proxy id). */
  fromLocal(data: Buffer): void {
    if (data.length > 0) this.fromLocalFrame(encodeVncFrame(this.proxyId, data));
  }

  /**
   * A frame already holding this stream's proxy id and then the bytes read from the local end:
   * the agent reads its TCP socket straight into such frames, so a read is never copied to be
   * sent. It is sent as it is whenever the credit covers it.
   */
  fromLocalFrame(frame: Buffer): void {
    if (this.closed || frame.length <= proxyIdBytes) return;
    this.queue.push(frame);
    this.queued += frame.length - proxyIdBytes;
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
      const take = Math.min(head.length - proxyIdBytes, this.credit);
      if (take === head.length - proxyIdBytes) {
        this.queue.shift();
        this.tunnel.sendFrame(head);
      } else {
        // Only the part the credit covers goes; the rest gets a proxy id of its own (a copy, but
        // at most one read's worth per grant).
        this.tunnel.sendFrame(head.subarray(0, proxyIdBytes + take));
        this.queue[0] = encodeVncFrame(this.proxyId, head.subarray(proxyIdBytes + take));
      }
      this.queued -= take;
      this.credit -= take;
      this.bytesOut += take;
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
