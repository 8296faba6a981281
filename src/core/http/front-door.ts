import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Logger } from '../log/logger.ts';
import { redactUrl } from '../log/redact-url.ts';
import type { HttpMetrics } from './access-log.ts';
import { clientIp } from './client-ip.ts';
import { envelopeFor } from './error-envelope.ts';
import { AppError } from './errors.ts';
import { requestIdFrom } from './request-id.ts';

/** One request as a front handler gets it: the raw Node objects and what the app would have worked out. */
export interface FrontRequest {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  requestId: string;
  clientIp: string;
  /** Lower-case, without the port. */
  hostname: string;
  /** As the client sent it, with the port. */
  host: string;
  pathname: string;
  /** `?a=1`, or ''. */
  search: string;
  log: Logger;
}

/**
 * A handler on the HTTP server's request listener, ahead of Koa: for a proxy whose every
 * request (an editor's hundreds of assets) should cost a string compare and a pipe, not an
 * app context, a middleware chain and a route lookup. `match` runs for every request.
 */
export interface FrontHttpHandler {
  /** For logs and metrics (`ide:hosted`). */
  name: string;
  /** The hostname (lower-case, no port) and path; parameters when the request is ours, else null. Keep it a string compare. */
  match(hostname: string, pathname: string): Record<string, string> | null;
  /** Access lines' level (default info): a proxy that carries a browser's every asset logs at debug. */
  accessLogLevel?: 'info' | 'debug';
  serve(request: FrontRequest): Promise<void>;
}

export interface MountedFrontHandler {
  owner: string;
  handler: FrontHttpHandler;
}

export interface FrontDoorOptions {
  log: Logger;
  metrics: HttpMetrics;
  proxyHops: number;
  replicaId: string;
  isDraining: () => boolean;
}

function hostnameOf(host: string): string {
  // `[::1]:8080` keeps its brackets; `a.b:8080` loses the port.
  const end = host.startsWith('[') ? host.indexOf(']') + 1 : host.lastIndexOf(':');
  return (end > 0 ? host.slice(0, end) : host).toLowerCase();
}

/**
 * The server's request listener: front handlers first, everything else to the app. What the
 * app's own middleware does for a request, a front request gets here too: a request id (taken
 * from a well-formed X-Request-Id or made), the client IP past `proxyHops`, an access line
 * and a metrics sample when the answer has gone, `Connection: close` while draining, and the
 * error envelope for a handler that throws before answering.
 */
export function frontDoor(handlers: readonly MountedFrontHandler[], app: RequestListener, options: FrontDoorOptions): RequestListener {
  if (handlers.length === 0) return app;
  return (req, res) => {
    const host = req.headers.host ?? '';
    const hostname = hostnameOf(host);
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const pathname = q === -1 ? url : url.slice(0, q);
    for (const { handler } of handlers) {
      const params = handler.match(hostname, pathname);
      if (params) return void serve(handler, { req, res, params, hostname, host, pathname, search: q === -1 ? '' : url.slice(q) });
    }
    return app(req, res);
  };

  async function serve(handler: FrontHttpHandler, partial: Omit<FrontRequest, 'requestId' | 'clientIp' | 'log'>): Promise<void> {
    const { req, res } = partial;
    const started = process.hrtime.bigint();
    const requestId = requestIdFrom(req.headers['x-request-id']);
    const log = options.log.child({ request_id: requestId });
    const ip = clientIp(req, options.proxyHops);
    res.setHeader('X-Request-Id', requestId);
    if (options.isDraining()) res.setHeader('Connection', 'close');
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const labels = { method: req.method ?? '', route: handler.name, status: String(res.statusCode) };
      options.metrics.requests.inc(labels);
      options.metrics.duration.observe(labels, seconds);
      const line = {
        method: req.method,
        host: partial.host,
        path: redactUrl(req.url ?? '/'),
        status: res.statusCode,
        duration_ms: Math.round(seconds * 1e6) / 1e3,
        aborted: !res.writableFinished,
        ip,
        replica_id: options.replicaId,
      };
      if (handler.accessLogLevel === 'debug') log.debug(line, 'request');
      else log.info(line, 'request');
    };
    res.once('finish', finish);
    res.once('close', finish);
    try {
      await handler.serve({ ...partial, requestId, clientIp: ip, log });
    } catch (err) {
      log.error({ err, handler: handler.name }, 'front handler failed');
      if (res.headersSent) return void res.destroy();
      const error = new AppError(500, 'INTERNAL_ERROR', 'Internal server error', 'Something went wrong on our side');
      res.writeHead(500, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' }).end(JSON.stringify(envelopeFor(error, requestId)));
    }
  }
}
