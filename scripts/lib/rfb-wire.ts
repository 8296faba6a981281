/**
 * RFB 3.8 wire format (RFC 6143) for our own client: the receive buffer, the pixel format and
 * the client-to-server messages.
 */

/** RFB pixel format (RFC 6143 §7.4): 16 bytes on the wire. */
export interface PixelFormat {
  bitsPerPixel: number;
  depth: number;
  bigEndian: boolean;
  trueColour: boolean;
  redMax: number;
  greenMax: number;
  blueMax: number;
  redShift: number;
  greenShift: number;
  blueShift: number;
}

/** Received bytes, consumed from the front; Raw pixels are discarded without being copied. */
export class ByteQueue {
  private chunks: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** The first `n` bytes (n ≤ length), not consumed. */
  peek(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.length >= n) return first.subarray(0, n);
    const merged = Buffer.concat(this.chunks);
    this.chunks = [merged];
    return merged.subarray(0, n);
  }

  /** Drops up to `n` bytes from the front; how many it dropped. */
  skip(n: number): number {
    let left = Math.min(n, this.length);
    const dropped = left;
    while (left > 0) {
      const first = this.chunks[0] as Buffer;
      if (first.length <= left) {
        this.chunks.shift();
        left -= first.length;
      } else {
        this.chunks[0] = first.subarray(left);
        left = 0;
      }
    }
    this.length -= dropped;
    return dropped;
  }

  take(n: number): Buffer {
    const out = Buffer.from(this.peek(n));
    this.skip(n);
    return out;
  }
}

export function readPixelFormat(b: Buffer): PixelFormat {
  return {
    bitsPerPixel: b.readUInt8(0),
    depth: b.readUInt8(1),
    bigEndian: b.readUInt8(2) !== 0,
    trueColour: b.readUInt8(3) !== 0,
    redMax: b.readUInt16BE(4),
    greenMax: b.readUInt16BE(6),
    blueMax: b.readUInt16BE(8),
    redShift: b.readUInt8(10),
    greenShift: b.readUInt8(11),
    blueShift: b.readUInt8(12),
  };
}

export function writePixelFormat(pf: PixelFormat): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(pf.bitsPerPixel, 0);
  b.writeUInt8(pf.depth, 1);
  b.writeUInt8(pf.bigEndian ? 1 : 0, 2);
  b.writeUInt8(pf.trueColour ? 1 : 0, 3);
  b.writeUInt16BE(pf.redMax, 4);
  b.writeUInt16BE(pf.greenMax, 6);
  b.writeUInt16BE(pf.blueMax, 8);
  b.writeUInt8(pf.redShift, 10);
  b.writeUInt8(pf.greenShift, 11);
  b.writeUInt8(pf.blueShift, 12);
  return b;
}

/** SetPixelFormat (type 0). */
export const setPixelFormatMessage = (pf: PixelFormat): Buffer => Buffer.concat([Buffer.from([0, 0, 0, 0]), writePixelFormat(pf)]);

/** SetEncodings (type 2). */
export function setEncodingsMessage(list: number[]): Buffer {
  const b = Buffer.alloc(4 + 4 * list.length);
  b.writeUInt8(2, 0);
  b.writeUInt16BE(list.length, 2);
  list.forEach((e, i) => b.writeInt32BE(e, 4 + 4 * i));
  return b;
}

/** FramebufferUpdateRequest (type 3). */
export function updateRequestMessage(incremental: boolean, r: { x: number; y: number; width: number; height: number }): Buffer {
  const b = Buffer.alloc(10);
  b.writeUInt8(3, 0);
  b.writeUInt8(incremental ? 1 : 0, 1);
  b.writeUInt16BE(r.x, 2);
  b.writeUInt16BE(r.y, 4);
  b.writeUInt16BE(r.width, 6);
  b.writeUInt16BE(r.height, 8);
  return b;
}

/** KeyEvent (type 4). */
export function keyEventMessage(keysym: number, down: boolean): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(4, 0);
  b.writeUInt8(down ? 1 : 0, 1);
  b.writeUInt32BE(keysym, 4);
  return b;
}

/** PointerEvent (type 5). */
export function pointerEventMessage(x: number, y: number, buttons: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUInt8(5, 0);
  b.writeUInt8(buttons, 1);
  b.writeUInt16BE(x, 2);
  b.writeUInt16BE(y, 4);
  return b;
}
