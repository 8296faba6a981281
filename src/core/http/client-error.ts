import { maxHeaderSize as nodeMaxHeaderSize, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log/logger.ts';
import { AppError } from './errors.ts';
import { envelopeFor } from './error-envelope.ts';
import { lingeringEnd } from './lingering-close.ts';
import { rawErrorResponse } from './raw-error-response.ts';
import { requestIdFrom } from './request-id.ts';

type ParserError = Error & { code?: string; reason?: string; rawPacket?: Buffer };

/** Parser errors of a request whose length cannot be told for sure: what smuggling probes hit. */
const framingErrors = new Set(['HPE_INVALID_TRANSFER_ENCODING', 'HPE_UNEXPECTED_CONTENT_LENGTH', 'HPE_INVALID_CONTENT_LENGTH', 'HPE_INVALID_CHUNK_SIZE']);

/** The answer Node's parser or timers call for, or null for a socket that only failed (a reset). */
function errorFor(err: ParserError, maxHeaderSize: number): { error: AppError; level: 'debug' | 'warn' } | null {
  const parser = { parser_error: err.code };
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    return {
      error: new AppError(431, 'REQUEST_HEADER_FIELDS_TOO_LARGE', 'Request header fields too large', `The request line and headers are larger than the limit of ${maxHeaderSize} bytes`, {
        limit_bytes: maxHeaderSize,
      }),
      level: 'warn',
    };
  }
  if (err.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') {
    return { error: new AppError(413, 'CHUNK_EXTENSIONS_TOO_LARGE', 'Payload too large', 'The chunk extensions of the request body are too large', parser), level: 'warn' };
  }
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return { error: new AppError(408, 'REQUEST_TIMEOUT', 'Request timeout', 'The request was not received in time (server.headers_timeout_ms, server.request_timeout_ms)'), level: 'debug' };
  }
  if (err.code && framingErrors.has(err.code)) {
    return { error: new AppError(400, 'INVALID_MESSAGE_FRAMING', 'Bad request', "The request's length is ambiguous (Content-Length and Transfer-Encoding); it was not served", parser), level: 'warn' };
  }
  if (err.code?.startsWith('HPE_')) {
    return { error: new AppError(400, 'BAD_REQUEST', 'Bad request', 'The request is not valid HTTP/1.1', parser), level: 'warn' };
  }
  return null;
}

/** A well-formed X-Request-Id among what was read, so a proxy's id still names the answer. */
function requestIdIn(raw: Buffer | undefined): string {
  const found = raw ? /\r\nx-request-id:[ \t]*([^\r\n]{1,128})\r\n/i.exec(raw.subarray(0, 16 * 1024).toString('latin1')) : null;
  return requestIdFrom(found?.[1]?.trim());
}

/** Nothing of an answer may have reached the socket yet, else ours would corrupt it. */
function canAnswer(socket: Duplex): boolean {
  const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
  return socket.writable && !inFlight?.headersSent;
}

/**
 * Answers what Node itself refuses below Koa (parser errors, the headers and request
 * timeouts) with the error envelope instead of Node's bare `400 Bad Request`, then closes the
 * connection. The rest of what the client sends is read for a moment and dropped (a lingering
 * close): closing with unread bytes would reset the connection and the client might never see
 * the answer. What was read is never logged (it may carry credentials).
 */
export function answerClientErrors(server: Server, log: Logger): void {
  const handled = new WeakSet<Duplex>();
  // Node's limit (16 KiB unless --max-http-header-size says otherwise); the server sets none of its own.
  const maxHeaderSize = nodeMaxHeaderSize;
  server.on('clientError', (err: ParserError, socket: Duplex) => {
    // Node calls again for every chunk the failed parser is fed while we linger.
    if (handled.has(socket)) return;
    handled.add(socket);
    const found = errorFor(err, maxHeaderSize);
    const remote = (socket as Duplex & { remoteAddress?: string }).remoteAddress;
    if (!found || !canAnswer(socket)) {
      log.debug({ parser_error: err.code, remote_address: remote }, 'client connection failed');
      return void socket.destroy();
    }
    const requestId = requestIdIn(err.rawPacket);
    log[found.level]({ request_id: requestId, status: found.error.status, code: found.error.code, parser_error: err.code, reason: err.reason, remote_address: remote }, 'refused below the app');
    lingeringEnd(socket, rawErrorResponse(found.error, requestId));
  });
  // An Expect other than 100-continue: Node would answer a bare 417 and keep the connection.
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const requestId = requestIdFrom(req.headers['x-request-id']);
    const error = new AppError(417, 'EXPECTATION_FAILED', 'Expectation failed', 'Only "Expect: 100-continue" is supported', { expect: String(req.headers.expect ?? '').slice(0, 100) });
    log.debug({ request_id: requestId, status: 417, code: error.code, remote_address: req.socket.remoteAddress }, 'refused below the app');
    const body = JSON.stringify(envelopeFor(error, requestId));
    res.writeHead(417, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', 'X-Request-Id': requestId, Connection: 'close' });
    res.end(body);
  });
}
