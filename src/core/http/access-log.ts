import type { Middleware } from 'koa';
import type { Counter, Histogram } from 'prom-client';
import type { Logger } from '../log/logger.ts';
import { redactUrl } from '../log/redact-url.ts';
import { clientIp } from './client-ip.ts';
import type { Principal } from './principal.ts';
import './request-state.ts';

export interface HttpMetrics {
  requests: Counter<'method' | 'route' | 'status'>;
  duration: Histogram<'method' | 'route' | 'status'>;
}

export interface AccessLogOptions {
  /** Trusted reverse proxies: the logged IP is the client's, past them (client-ip.ts). */
  proxyHops: number;
  /** This replica (as in the `replicas` table), so lines of many replicas can be told apart. */
  replicaId: string;
}

/**
 * One JSON line and one metrics sample per request, written when the response has gone out
 * (or the client went away), so streamed bodies are timed to the end. The route label is the
 * matched pattern, never the raw path, to keep metric cardinality bounded. The line names the
 * client IP, the user when the request was authenticated, and the replica that served it.
 */
export function accessLog(log: Logger, metrics: HttpMetrics, options: AccessLogOptions): Middleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    const requestLog = log.child({ request_id: ctx.state.requestId as string });
    ctx.state.log = requestLog;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const labels = { method: ctx.method, route: String(ctx.state.routePattern ?? 'unmatched'), status: String(ctx.status) };
      metrics.requests.inc(labels);
      metrics.duration.observe(labels, seconds);
      requestLog.info(
        {
          method: ctx.method,
          host: ctx.host,
          path: redactUrl(ctx.originalUrl),
          status: ctx.status,
          duration_ms: Math.round(seconds * 1e6) / 1e3,
          aborted: !ctx.res.writableFinished,
          ip: clientIp(ctx.req, options.proxyHops),
          ...userOf(ctx.state.principal),
          replica_id: options.replicaId,
        },
        'request',
      );
    };
    ctx.res.once('finish', finish);
    ctx.res.once('close', finish);
    await next();
  };
}

/** `user_id` only when someone signed in: an anonymous line has no such key rather than a null one. */
export function userOf(principal: Principal | null | undefined): { user_id?: string } {
  return principal ? { user_id: principal.userId } : {};
}
