/**
 * VNC bytes over the agent socket (addendum "VNC streams"): binary frames that start with the
 * stream's 36-character proxy id, with per-stream credit (credit-stream.ts).
 */

export const proxyIdBytes = 36;
/** Each direction of each stream may have this many bytes unacknowledged (addendum: 1 MiB). */
export const initialWindowBytes = 1024 * 1024;

/** A binary frame: the proxy id in ASCII, then the payload. */
export function encodeVncFrame(proxyIdText: string, payload: Buffer): Buffer {
  const head = Buffer.from(proxyIdText, 'ascii');
  if (head.length !== proxyIdBytes) throw new Error(`proxy id must be ${proxyIdBytes} ASCII characters`);
  return Buffer.concat([head, payload]);
}

/** Null for a frame too short to carry a proxy id. */
export function decodeVncFrame(frame: Buffer): { proxyId: string; payload: Buffer } | null {
  if (frame.length < proxyIdBytes) return null;
  return { proxyId: frame.subarray(0, proxyIdBytes).toString('ascii'), payload: frame.subarray(proxyIdBytes) };
}
