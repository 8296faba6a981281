import { proxyIdBytes } from '../../plugins/streamspace/contract/vnc-frames.ts';

/** What one read of the VNC server's socket may fill: as much as Node reads at once by default. */
const readBytes = 64 * 1024;
/** Reads smaller than this are copied out and the buffer read into again; bigger ones are handed on as they are. */
const copyBelow = 4 * 1024;

/**
 * Buffers for a socket's `onread` that leave room for the stream's proxy id in front, so a
 * read becomes a VNC frame without being copied. `next()` gives the socket the space to read
 * into; `filled(n)` turns what it read into a frame. A big read is handed on and the next read
 * goes into a fresh buffer; a small one (a few keystrokes' worth of screen) is copied, so
 * interactive traffic does not allocate 64 KiB per read.
 */
export class FrameReader {
  private buffer: Buffer;
  private fresh = true;

  constructor(private readonly proxyId: string) {
    this.buffer = this.allocate();
  }

  next(): Buffer {
    if (!this.fresh) this.buffer = this.allocate();
    this.fresh = true;
    return this.buffer.subarray(proxyIdBytes);
  }

  filled(n: number): Buffer {
    const frame = this.buffer.subarray(0, proxyIdBytes + n);
    if (n < copyBelow) return Buffer.from(frame);
    this.fresh = false;
    return frame;
  }

  private allocate(): Buffer {
    const buffer = Buffer.allocUnsafe(proxyIdBytes + readBytes);
    buffer.write(this.proxyId, 0, proxyIdBytes, 'ascii');
    return buffer;
  }
}
