import { createServer, type Server } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import type Koa from 'koa';
import type { Config } from '../../config/schema.ts';
import type { Logger } from '../log/logger.ts';
import type { CoreModule } from '../boot/core-module.ts';
import { createApp } from '../../app.ts';
import { UpgradeDispatcher } from '../ws/upgrade-dispatcher.ts';
import type { MountedWebSocketRoute } from '../ws/websocket-route.ts';
import type { HttpMetrics } from './access-log.ts';
import type { Authenticator, TicketRedeemer } from './principal.ts';
import type { RateLimiter } from './rate-limiter.ts';
import type { MountedRawHandler } from './raw-handler.ts';
import { frontDoor, type MountedFrontHandler } from './front-door.ts';
import { answerClientErrors } from './client-error.ts';
import { capConnectionsPerAddress } from './connection-cap.ts';
import type { RateDecision } from '../../plugin-api/limits.ts';
import type { MountedRoute } from './route.ts';

export interface HttpModule extends CoreModule {
  app: Koa;
  server: Server;
  /** Set once listening: where the server can be reached. */
  address(): { url: string; port: number };
}

export interface HttpModuleOptions {
  config: Readonly<Config>;
  log: Logger;
  /** This replica's id, named on every access line. */
  replicaId: string;
  metrics: { http: HttpMetrics };
  /** Every route, the service routes first. */
  routes: readonly MountedRoute[];
  rawHttp: readonly MountedRawHandler[];
  /** Served ahead of the app, on the request listener itself. */
  frontHttp: readonly MountedFrontHandler[];
  websockets: readonly MountedWebSocketRoute[];
  allowedOrigins: ReadonlySet<string>;
  authenticate: Authenticator;
  redeemTicket: TicketRedeemer;
  rateLimiter: RateLimiter;
  /** The service module's flag: set at shutdown, before anything drains. */
  isDraining: () => boolean;
  databaseUp: () => boolean;
  /** Spends one upgrade attempt of a client IP (see UpgradeDispatcherOptions). */
  admitUpgrade?: (ip: string) => Promise<RateDecision>;
  /** The socket bound at the start of the boot (port-reservation.ts); listens on config.server.port itself without one. */
  reservedSocket?: () => NetServer;
}

/** How often Node looks for requests past their headers or request timeout: often enough that short test timeouts hold. */
function checkingIntervalMs(server: Config['server']): number {
  return Math.max(50, Math.min(1_000, Math.floor(server.headers_timeout_ms / 4)));
}

/**
 * The HTTP server: the Koa app and the WebSocket upgrade dispatcher. Start listens; drain stops accepting, closes
 * WebSockets with 1001 and lets in-flight requests finish; stop cuts what is left.
 */
export function createHttpModule(options: HttpModuleOptions): HttpModule {
  const { config, log } = options;
  const app = createApp({
    log,
    metrics: options.metrics.http,
    routes: options.routes,
    rawHandlers: options.rawHttp,
    proxyHops: config.server.proxy_hops,
    replicaId: options.replicaId,
    allowedOrigins: options.allowedOrigins,
    bodyLimitBytes: config.server.body_limit_bytes,
    validateResponses: config.server.validate_responses,
    authenticate: options.authenticate,
    redeemTicket: options.redeemTicket,
    rateLimiter: options.rateLimiter,
    isDraining: options.isDraining,
    databaseUp: options.databaseUp,
  });
  const dispatcher = new UpgradeDispatcher({ log, allowedOrigins: options.allowedOrigins, routes: options.websockets, proxyHops: config.server.proxy_hops, admitUpgrade: options.admitUpgrade });
  const handle = app.callback();
  // Koa answers a failed request itself (ctx.onerror) and resolves, so nothing is left to catch here.
  const listener = frontDoor(options.frontHttp, (req, res) => void handle(req, res), {
    log,
    metrics: options.metrics.http,
    proxyHops: config.server.proxy_hops,
    replicaId: options.replicaId,
    isDraining: options.isDraining,
  });
  const server = createServer({
    headersTimeout: config.server.headers_timeout_ms,
    requestTimeout: config.server.request_timeout_ms,
    keepAliveTimeout: config.server.keep_alive_timeout_ms,
    connectionsCheckingInterval: checkingIntervalMs(config.server),
  });
  const cap = capConnectionsPerAddress(server, config.server.max_connections_per_ip, log);
  answerClientErrors(server, log);
  // A connection over the cap was answered 429 when it opened: nothing it sends is served.
  server.on('request', (req, res) => (cap.refused(req.socket) ? req.socket.destroy() : listener(req, res)));
  server.on('upgrade', (req, socket, head) => (cap.refused(socket) ? socket.destroy() : dispatcher.handle(req, socket, head)));
  let address: { url: string; port: number } | null = null;
  return {
    name: 'http',
    app,
    server,
    address: () => {
      if (!address) throw new Error('the HTTP server is not listening yet');
      return address;
    },
    start: async () => {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        const listening = (): void => {
          server.off('error', reject);
          resolve();
        };
        if (options.reservedSocket) server.listen(options.reservedSocket(), listening);
        else server.listen(config.server.port, config.server.host, listening);
      });
      const port = (server.address() as AddressInfo).port;
      const shownHost = config.server.host === '0.0.0.0' || config.server.host === '::' ? '127.0.0.1' : config.server.host;
      address = { url: `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`, port };
    },
    drain: async (graceMs) => {
      if (!server.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await dispatcher.closeAll(Math.min(graceMs, 1000));
      // Keep-alive connections that go idle during the drain (an ended event stream, say) are closed as they do.
      const idleSweep = setInterval(() => server.closeIdleConnections(), 100);
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
      clearInterval(idleSweep);
    },
    stop: async () => {
      server.closeAllConnections();
    },
  };
}
