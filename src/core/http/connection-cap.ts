import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log/logger.ts';
import { AppError } from './errors.ts';
import { rawErrorResponse } from './raw-error-response.ts';

/** A refused connection gets this long to read its answer and close before it is cut. */
const refusedLingerMs = 1_000;

export interface ConnectionCap {
  /** Open connections per peer address (for tests and metrics). */
  readonly open: ReadonlyMap<string, number>;
  /** True for a connection over the cap: whatever request it still sends must not be served. */
  refused(socket: Duplex): boolean;
}

/**
 * At most `limit` open TCP connections per peer address (0: no cap). It counts sockets, so
 * the address is the socket's peer, never X-Forwarded-For: behind a reverse proxy every
 * connection comes from the proxy, and the cap bounds the proxy, not its clients (see
 * docs/robustness.md). A connection over the cap is answered 429 `TOO_MANY_CONNECTIONS` at
 * once, before it sends anything, and closed; it is never handed to the app.
 */
export function capConnectionsPerAddress(server: Server, limit: number, log: Logger): ConnectionCap {
  const open = new Map<string, number>();
  const refusedSockets = new WeakSet<Duplex>();
  if (limit > 0) {
    // Ahead of Node's own listener, so the count is right before any byte is parsed.
    server.prependListener('connection', (socket: Socket) => {
      const address = socket.remoteAddress ?? '';
      const held = open.get(address) ?? 0;
      if (held >= limit) {
        refusedSockets.add(socket);
        socket.on('error', () => undefined);
        const requestId = randomUUID();
        log.debug({ request_id: requestId, remote_address: address, open: held, limit }, 'connection over the per-address cap refused');
        const error = new AppError(
          429,
          'TOO_MANY_CONNECTIONS',
          'Too many connections',
          `This address already has ${limit} connections open; close some and retry`,
          { limit, retry_after: 1 },
          { 'Retry-After': '1' },
        );
        socket.end(rawErrorResponse(error, requestId));
        const cut = setTimeout(() => socket.destroy(), refusedLingerMs).unref();
        socket.once('close', () => clearTimeout(cut));
        return;
      }
      open.set(address, held + 1);
      socket.once('close', () => {
        const left = (open.get(address) ?? 1) - 1;
        if (left <= 0) open.delete(address);
        else open.set(address, left);
      });
    });
  }
  return { open, refused: (socket) => refusedSockets.has(socket) };
}
