import type { WebSocket } from 'ws';

/** A close to pass on: the code and reason the other side gets. */
export type CloseMapping = (code: number, reason: string) => { code: number; reason: string };

export interface PipeOptions {
  /** Bytes sent to a side and not yet written to its socket beyond which the other side stops being read. */
  highWaterBytes?: number;
  /** How `a`'s close reaches `b`; default: the same code (1005/1006, which cannot be sent, become 1011). */
  closeFromA?: CloseMapping;
  /** How `b`'s close reaches `a`; the same default. */
  closeFromB?: CloseMapping;
}

/** Codes a peer may not send in a close frame (RFC 6455 7.4.1): they only describe what happened. */
const unsendable = new Set([1005, 1006, 1015]);

const sameClose: CloseMapping = (code, reason) => ({ code: unsendable.has(code) ? 1011 : code, reason });

/** Keeps a close reason within the 123 bytes a close frame can carry. */
const fitReason = (reason: string): string => Buffer.from(reason).subarray(0, 120).toString('utf8');

/**
 * Joins two open WebSockets message for message (text stays text, binary stays binary), with
 * backpressure both ways: a side that does not drain stops the other being read, so memory
 * stays bounded by the high-water mark and the TCP buffers. When either closes, the other is
 * closed with the mapped code. Both sockets are resumed (a socket opened paused starts here).
 */
export function pipeWebSockets(a: WebSocket, b: WebSocket, options: PipeOptions = {}): void {
  const highWater = options.highWaterBytes ?? 1024 * 1024;
  const flow = (from: WebSocket, to: WebSocket): void => {
    let pending = 0;
    let paused = false;
    from.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      if (to.readyState !== to.OPEN) return;
      const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      pending += bytes.length;
      to.send(bytes, { binary: isBinary }, () => {
        pending -= bytes.length;
        if (paused && pending <= highWater / 2) {
          paused = false;
          from.resume();
        }
      });
      if (!paused && pending > highWater) {
        paused = true;
        from.pause();
      }
    });
  };
  flow(a, b);
  flow(b, a);
  const relayClose = (to: WebSocket, mapping: CloseMapping) => (code: number, reasonBytes: Buffer) => {
    if (to.readyState !== to.OPEN) return;
    const mapped = mapping(code, reasonBytes.toString('utf8'));
    to.close(mapped.code, fitReason(mapped.reason));
  };
  a.on('close', relayClose(b, options.closeFromA ?? sameClose));
  b.on('close', relayClose(a, options.closeFromB ?? sameClose));
  for (const ws of [a, b]) {
    // A socket error is followed by its close, which the other side hears about above.
    if (ws.listenerCount('error') === 0) ws.on('error', () => undefined);
    ws.resume();
  }
}
