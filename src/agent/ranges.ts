import { createReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';

/** What a download is answered with: the whole file, one byte range of it, or "that range is not in it". */
export type RangeAnswer = { kind: 'full' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

/**
 * Reads a `Range` header against a file of `size` bytes (RFC 9110 §14). One range only:
 * `bytes=4-7`, `bytes=4-` (to the end), `bytes=-3` (the last 3). A header the agent does not
 * take (another unit, bad syntax, several ranges, an empty file) is ignored and the whole file
 * is sent: §14.2 lets a server ignore Range, and a client that resumes with one range (every
 * browser and download manager) never needs multipart/byteranges. Only a well-formed single
 * range that starts at or past the end (or a zero suffix) is unsatisfiable (416).
 */
export function parseRange(header: string | undefined, size: number): RangeAnswer {
  if (header === undefined || size === 0) return { kind: 'full' };
  const match = /^bytes=[ \t]*(\d*)-(\d*)[ \t]*$/i.exec(header.trim());
  if (!match) return { kind: 'full' };
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return { kind: 'full' };
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (last !== '' && Number(last) < start) return { kind: 'full' }; // invalid (§14.1.1), so ignored
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end: last === '' ? size - 1 : Math.min(Number(last), size - 1) };
}

export interface Validators {
  /** A strong entity tag, quoted: `"..."`. */
  etag: string;
  lastModified: Date;
}

/**
 * `If-Range` (§13.1.5): the range is honoured only if the file is still the one the client
 * began with, else the whole file is sent. An entity tag is compared strongly (a weak tag never
 * matches); a date must equal Last-Modified exactly (to the second, as HTTP dates are).
 */
export function ifRangeHolds(header: string | undefined, validators: Validators): boolean {
  if (header === undefined) return true;
  const value = header.trim();
  if (value.startsWith('"')) return value === validators.etag;
  if (value.startsWith('W/')) return false;
  const date = Date.parse(value);
  return Number.isFinite(date) && Math.floor(date / 1000) === Math.floor(validators.lastModified.getTime() / 1000);
}

const header = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

/**
 * Streams a file as a GET answer with range support: 200 with `Accept-Ranges: bytes`, 206 with
 * `Content-Range: bytes a-b/size` and only those bytes, or 416 with `Content-Range: bytes *\/size`.
 */
export async function sendFileRange(req: IncomingMessage, res: ServerResponse, file: string, size: number, validators: Validators, headers: Record<string, string>): Promise<void> {
  const common = { ...headers, 'Accept-Ranges': 'bytes', ETag: validators.etag, 'Last-Modified': validators.lastModified.toUTCString() };
  const range = ifRangeHolds(header(req.headers['if-range']), validators) ? parseRange(header(req.headers.range), size) : { kind: 'full' as const };
  if (range.kind === 'unsatisfiable') {
    const text = JSON.stringify({ error: `the range is not inside the file's ${size} bytes`, code: 'range_not_satisfiable' });
    res.writeHead(416, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Content-Range': `bytes */${size}`, 'Accept-Ranges': 'bytes' });
    res.end(text);
    return;
  }
  if (range.kind === 'partial') {
    res.writeHead(206, { ...common, 'Content-Length': range.end - range.start + 1, 'Content-Range': `bytes ${range.start}-${range.end}/${size}` });
    await pipeline(createReadStream(file, { start: range.start, end: range.end }), res);
    return;
  }
  res.writeHead(200, { ...common, 'Content-Length': size });
  await pipeline(createReadStream(file), res);
}
