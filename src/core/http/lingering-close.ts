import type { Duplex } from 'node:stream';

/** After the answer, how long the rest of what the client is still sending is read and dropped. */
export const lingerMs = 1_000;

/**
 * Ends the socket (with `last` as its final bytes) and keeps reading what the client is still
 * sending for up to `ms`, dropping it, before destroying it: a lingering close. Closing with
 * unread bytes makes the kernel answer them with a reset, and a reset can throw away the answer
 * the client (or nginx in front) has not read yet, which turns our 413 or 431 into a 502.
 */
export function lingeringEnd(socket: Duplex, last?: Buffer | string, ms = lingerMs): void {
  if (last === undefined) socket.end();
  else socket.end(last);
  const cut = setTimeout(() => socket.destroy(), ms).unref();
  socket.once('close', () => clearTimeout(cut));
  socket.once('end', () => socket.destroy());
}

/**
 * For a response sent with `Connection: close` while its request body is still arriving: Node
 * closes such a connection with `destroySoon()` once the answer is written; this makes that
 * close a lingering one. The HTTP parser keeps consuming (and Node dropping) the rest meanwhile.
 */
export function lingerWhenClosed(socket: Duplex & { destroySoon?: () => void }): void {
  socket.destroySoon = () => lingeringEnd(socket);
}
