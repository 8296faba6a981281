import type { Middleware } from 'koa';
import type { Counter, Histogram } from 'prom-client';
import type { Logger } from '../log/logger.ts';
import { redactUrl } from '../log/redact-url.ts';

export interface HttpMetrics {
  requests: Counter<'method' | 'route' | 'status'>;
  duration: Histogram<'method' | 'route' | 'status'>;
}

/**
 * One JSON line and one metrics sample per request, written when the response has gone out
 * (or the client went away), so streamed bodies are timed to the end. The route label is the
 * matched pattern, never the raw path, to keep metric cardinality bounded.
 */
export function accessLog(log: Logger, metrics: HttpMetrics): Middleware {
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
        },
        'request',
      );
    };
    ctx.res.once('finish', finish);
    ctx.res.once('close', finish);
    await next();
  };
}
