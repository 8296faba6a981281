import Koa from 'koa';
import type { Logger } from './core/log/logger.ts';
import { requestId } from './core/http/request-id.ts';
import { accessLog, type HttpMetrics } from './core/http/access-log.ts';
import { errorMiddleware } from './core/http/error-middleware.ts';
import { cors } from './core/http/cors.ts';
import { databaseGate } from './core/http/database-gate.ts';
import { buildRouter, type MountOptions } from './core/http/mount-routes.ts';
import type { MountedRoute } from './core/http/route.ts';
import { rawHandlers, type MountedRawHandler } from './core/http/raw-handler.ts';

export interface AppOptions extends MountOptions {
  log: Logger;
  metrics: HttpMetrics;
  /** Trusted reverse proxies: the client IP is the entry this far from the right of X-Forwarded-For. */
  proxyHops: number;
  /** Named on every access line. */
  replicaId: string;
  allowedOrigins: ReadonlySet<string>;
  routes: readonly MountedRoute[];
  /** Proxies and other whole-request handlers, before CORS, routes and body parsers. */
  rawHandlers?: readonly MountedRawHandler[];
  isDraining: () => boolean;
  /** False while the database server does not answer: requests that need it answer 503 at once. */
  databaseUp: () => boolean;
}

/** The Koa app with every route mounted; no listen, so main and the tests share it. */
export function createApp(options: AppOptions): Koa {
  const app = new Koa({ proxy: options.proxyHops > 0, maxIpsCount: options.proxyHops });
  // Errors are answered and logged by errorMiddleware; this only sees failures while streaming.
  app.on('error', (err: unknown) => options.log.debug({ err }, 'response stream error'));
  const router = buildRouter([...options.routes], options);
  app.use(requestId());
  app.use(async (ctx, next) => {
    await next();
    // Draining: this request finishes, but its connection is not kept for another one.
    if (options.isDraining()) ctx.set('Connection', 'close');
  });
  app.use(accessLog(options.log, options.metrics, { proxyHops: options.proxyHops, replicaId: options.replicaId }));
  app.use(errorMiddleware(options.bodyLimitBytes));
  app.use(rawHandlers(options.rawHandlers ?? []));
  app.use(cors(options.allowedOrigins));
  app.use(databaseGate(options.databaseUp));
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
