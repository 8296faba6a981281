import type { ByteTransport } from './rfb-transport.ts';
import { ByteQueue, keyEventMessage, pointerEventMessage, readPixelFormat, setEncodingsMessage, setPixelFormatMessage, updateRequestMessage, type PixelFormat } from './rfb-wire.ts';

export type { PixelFormat } from './rfb-wire.ts';

export interface ServerInit {
  width: number;
  height: number;
  pixelFormat: PixelFormat;
  name: string;
}

/** One whole FramebufferUpdate message, timed when its first and its last byte were parsed. */
export interface FramebufferUpdate {
  rects: number;
  /** Bytes of the message, headers included. */
  bytes: number;
  startedAt: number;
  completedAt: number;
}

export const encodings = { raw: 0, copyRect: 1 } as const;
export const keysyms = { a: 0x61, backSpace: 0xff08 } as const;

type Phase = 'version' | 'security-types' | 'security-result' | 'server-init' | 'messages';

/**
 * A minimal RFB 3.8 client (RFC 6143) over any byte transport: version exchange, security
 * type None, a shared ClientInit, ServerInit; then it parses every server message
 * (FramebufferUpdate with Raw and CopyRect rectangles, SetColourMapEntries, Bell, ServerCutText)
 * so the stream never desyncs, and sends the client messages a benchmark needs. Any other
 * encoding is an error: it asks for none.
 */
export class RfbClient {
  private readonly queue = new ByteQueue();
  private phase: Phase = 'version';
  private init: ServerInit | null = null;
  private bytesPerPixel = 4;
  /** Inside a FramebufferUpdate: rectangles still to come and bytes of the current rectangle's payload. */
  private update: { rects: number; rectsLeft: number; payloadLeft: number; bytes: number; startedAt: number } | null = null;
  private readonly updateListeners = new Set<(u: FramebufferUpdate) => void>();
  private failure: Error | null = null;
  private readonly failListeners = new Set<(err: Error) => void>();
  private readonly ready: Promise<ServerInit>;
  private settle: { ok: (init: ServerInit) => void; fail: (err: Error) => void } = { ok: () => undefined, fail: () => undefined };
  readonly counts = { updates: 0, bells: 0, cutTexts: 0, colourMaps: 0 };

  constructor(private readonly transport: ByteTransport) {
    this.ready = new Promise((ok, fail) => (this.settle = { ok, fail }));
    this.ready.catch(() => undefined);
    transport.onData((chunk) => {
      if (this.failure) return;
      this.queue.push(chunk);
      try {
        this.parse(performance.now());
      } catch (err) {
        this.fail(err as Error);
      }
    });
    transport.onClose((err) => this.fail(err ?? new Error(`the RFB connection closed (${this.phase})`)));
  }

  /** Resolves with ServerInit once the handshake is done. */
  handshake(): Promise<ServerInit> {
    return this.ready;
  }

  get serverInit(): ServerInit | null {
    return this.init;
  }

  /** Calls `listener` for every whole FramebufferUpdate; the returned function removes it. */
  onUpdate(listener: (u: FramebufferUpdate) => void): () => void {
    this.updateListeners.add(listener);
    return () => this.updateListeners.delete(listener);
  }

  /** The next whole FramebufferUpdate, or null when none completes within `timeoutMs`; rejects when the connection fails. */
  nextUpdate(timeoutMs: number): Promise<FramebufferUpdate | null> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const finish = (): void => {
        off();
        clearTimeout(timer);
        this.failListeners.delete(onFail);
      };
      const off = this.onUpdate((u) => {
        finish();
        resolve(u);
      });
      const onFail = (err: Error): void => {
        finish();
        reject(err);
      };
      this.failListeners.add(onFail);
      const timer = setTimeout(() => {
        finish();
        resolve(null);
      }, timeoutMs);
    });
  }

  setPixelFormat(pf: PixelFormat): void {
    this.bytesPerPixel = pf.bitsPerPixel / 8;
    this.transport.send(setPixelFormatMessage(pf));
  }

  setEncodings(list: number[]): void {
    this.transport.send(setEncodingsMessage(list));
  }

  /** FramebufferUpdateRequest for the whole screen (or `rect`). */
  requestUpdate(incremental: boolean, rect?: { x: number; y: number; width: number; height: number }): void {
    this.transport.send(updateRequestMessage(incremental, rect ?? { x: 0, y: 0, width: this.init?.width ?? 0, height: this.init?.height ?? 0 }));
  }

  key(keysym: number, down: boolean): void {
    this.transport.send(keyEventMessage(keysym, down));
  }

  pointer(x: number, y: number, buttons = 0): void {
    this.transport.send(pointerEventMessage(x, y, buttons));
  }

  /** Closes the transport; failures after this are not reported. */
  close(): Promise<void> {
    this.failure ??= new Error('closed by the client');
    return this.transport.close();
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.settle.fail(err);
    for (const l of [...this.failListeners]) l(err);
  }

  /** Consumes every complete piece in the queue; returns when it needs more bytes. */
  private parse(now: number): void {
    const q = this.queue;
    for (;;) {
      if (this.phase === 'version') {
        if (q.length < 12) return;
        const version = q.take(12).toString('latin1');
        if (!/^RFB 003\.00[89]\n$/.test(version)) throw new Error(`not an RFB 3.8 server: ${JSON.stringify(version)}`);
        this.transport.send(Buffer.from('RFB 003.008\n'));
        this.phase = 'security-types';
      } else if (this.phase === 'security-types') {
        if (q.length < 1) return;
        const n = q.peek(1).readUInt8(0);
        if (n === 0) {
          if (q.length < 5) return;
          const len = q.peek(5).readUInt32BE(1);
          if (q.length < 5 + len) return;
          throw new Error(
            `the server refused the connection: ${q
              .take(5 + len)
              .subarray(5)
              .toString('utf8')}`,
          );
        }
        if (q.length < 1 + n) return;
        const types = [...q.take(1 + n).subarray(1)];
        if (!types.includes(1)) throw new Error(`the server does not offer security type None (offers ${types.join(', ')})`);
        this.transport.send(Buffer.from([1]));
        this.phase = 'security-result';
      } else if (this.phase === 'security-result') {
        if (q.length < 4) return;
        const result = q.peek(4).readUInt32BE(0);
        if (result !== 0) {
          if (q.length < 8 || q.length < 8 + q.peek(8).readUInt32BE(4)) return;
          throw new Error(
            `security failed: ${q
              .take(8 + q.peek(8).readUInt32BE(4))
              .subarray(8)
              .toString('utf8')}`,
          );
        }
        q.skip(4);
        this.transport.send(Buffer.from([1])); // ClientInit, shared
        this.phase = 'server-init';
      } else if (this.phase === 'server-init') {
        if (q.length < 24) return;
        const nameLength = q.peek(24).readUInt32BE(20);
        if (q.length < 24 + nameLength) return;
        const b = q.take(24 + nameLength);
        this.init = { width: b.readUInt16BE(0), height: b.readUInt16BE(2), pixelFormat: readPixelFormat(b.subarray(4, 20)), name: b.subarray(24).toString('utf8') };
        this.bytesPerPixel = this.init.pixelFormat.bitsPerPixel / 8;
        this.phase = 'messages';
        this.settle.ok(this.init);
      } else if (!this.parseMessage(now)) {
        return;
      }
    }
  }

  /** One step of a server message; false when it needs more bytes. */
  private parseMessage(now: number): boolean {
    const q = this.queue;
    const u = this.update;
    if (u) {
      if (u.payloadLeft > 0) {
        const dropped = q.skip(u.payloadLeft);
        u.payloadLeft -= dropped;
        u.bytes += dropped;
        if (u.payloadLeft > 0) return false;
      }
      if (u.rectsLeft === 0) {
        this.update = null;
        this.counts.updates += 1;
        const done: FramebufferUpdate = { rects: u.rects, bytes: u.bytes, startedAt: u.startedAt, completedAt: now };
        for (const l of [...this.updateListeners]) l(done);
        return true;
      }
      if (q.length < 12) return false;
      const h = q.take(12);
      const [width, height, encoding] = [h.readUInt16BE(4), h.readUInt16BE(6), h.readInt32BE(8)];
      u.rectsLeft -= 1;
      u.bytes += 12;
      if (encoding === encodings.raw) u.payloadLeft = width * height * this.bytesPerPixel;
      else if (encoding === encodings.copyRect) u.payloadLeft = 4;
      else throw new Error(`rectangle with encoding ${encoding}, which this client never asked for`);
      return true;
    }
    if (q.length < 1) return false;
    const type = q.peek(1).readUInt8(0);
    if (type === 0) {
      if (q.length < 4) return false;
      const rects = q.take(4).readUInt16BE(2);
      this.update = { rects, rectsLeft: rects, payloadLeft: 0, bytes: 4, startedAt: now };
    } else if (type === 1) {
      if (q.length < 6) return false;
      const n = q.peek(6).readUInt16BE(4);
      if (q.length < 6 + 6 * n) return false;
      q.skip(6 + 6 * n);
      this.counts.colourMaps += 1;
    } else if (type === 2) {
      q.skip(1);
      this.counts.bells += 1;
    } else if (type === 3) {
      if (q.length < 8) return false;
      // A negative length is the extended clipboard format; its payload is |length| bytes.
      const length = Math.abs(q.peek(8).readInt32BE(4));
      if (q.length < 8 + length) return false;
      q.skip(8 + length);
      this.counts.cutTexts += 1;
    } else {
      throw new Error(`unknown server message type ${type}`);
    }
    return true;
  }
}
