import { createServer, type Server } from 'node:net';
import type { CoreModule } from '../boot/core-module.ts';
import { StartupError, systemCode } from '../boot/startup-error.ts';

export interface PortReservation extends CoreModule {
  /** The bound port (the one the OS picked when PORT is 0). */
  port: number;
  /** Hands the bound socket to the HTTP server (`server.listen(take())`); it is then that server's to close. */
  take: () => Server;
}

function explainListenError(err: unknown, host: string, port: number): StartupError {
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  switch (systemCode(err)) {
    case 'EADDRINUSE':
      return new StartupError('PORT', `${where} is already in use by another process; stop that process, or set PORT (or HOST) to a free address`, { cause: err });
    case 'EACCES':
      return new StartupError('PORT', `not allowed to listen on ${where} (ports below 1024 need privileges); set PORT to 1024 or above, or grant CAP_NET_BIND_SERVICE`, { cause: err });
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new StartupError('HOST', `${host} is not an address of this machine; set HOST to one of its addresses, or 0.0.0.0 for all`, { cause: err });
    default:
      return new StartupError('PORT', `cannot listen on ${where} (${err instanceof Error ? err.message : String(err)}); check PORT and HOST`, { cause: err });
  }
}

/**
 * Binds the HTTP port first thing in the boot, before the database is opened or anything is
 * created, so a taken port stops the boot at once, and nothing can take the port while the
 * migrations run. The HTTP module listens on this very socket once every module is ready;
 * until then a connection is closed as it arrives (nothing could answer it yet).
 */
export async function reservePort(host: string, port: number): Promise<PortReservation> {
  const socket = createServer({ pauseOnConnect: true }, (early) => early.destroy());
  await new Promise<void>((resolve, reject) => {
    socket.once('error', (err) => reject(explainListenError(err, host, port)));
    socket.listen(port, host, () => resolve());
  });
  socket.removeAllListeners('error');
  const address = socket.address();
  let taken = false;
  return {
    name: 'port',
    port: typeof address === 'object' && address ? address.port : port,
    take: () => {
      taken = true;
      return socket;
    },
    // A boot that failed before the HTTP server took the socket frees the port here.
    stop: async () => {
      if (!taken) await new Promise<void>((resolve) => socket.close(() => resolve()));
    },
  };
}
