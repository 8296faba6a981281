import { STATUS_CODES } from 'node:http';
import { envelopeFor } from './error-envelope.ts';
import type { AppError } from './errors.ts';

/**
 * A whole HTTP/1.1 error answer as bytes, for sockets no ServerResponse owns: refused
 * upgrades, Node's parser errors, connections over the per-address cap. Same envelope,
 * `X-Request-Id` and the error's own headers as the app's answers, and always
 * `Connection: close`, since the socket is ended right after.
 */
export function rawErrorResponse(error: AppError, requestId: string): string {
  const body = JSON.stringify(envelopeFor(error, requestId));
  const extra = Object.entries(error.headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  return (
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}\r\n` +
    `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
    `Cache-Control: no-store\r\nX-Request-Id: ${requestId}\r\n${extra}Connection: close\r\n\r\n${body}`
  );
}
