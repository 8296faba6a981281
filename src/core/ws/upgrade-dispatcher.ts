import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../log/logger.ts';
import { redactUrl } from '../log/redact-url.ts';
import { AppError, ForbiddenError, NotFoundError, ServiceUnavailableError } from '../http/errors.ts';
import { rawErrorResponse } from '../http/raw-error-response.ts';
import { requestIdFrom } from '../http/request-id.ts';
import { matchPath } from '../http/path-pattern.ts';
import type { MountedWebSocketRoute, UpgradeContext } from './websocket-route.ts';
import { clientIp } from '../http/client-ip.ts';
import type { RateDecision } from '../../plugin-api/limits.ts';

const defaultMaxPayload = 64 * 1024;
const authorizeTimeoutMs = 10_000;

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new ServiceUnavailableError('UPGRADE_TIMEOUT', 'Authorising this connection took too long; retry')), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export interface UpgradeDispatcherOptions {
  log: Logger;
  allowedOrigins: ReadonlySet<string>;
  routes: readonly MountedWebSocketRoute[];
  proxyHops: number;
  /**
   * Spends one of the client IP's upgrade attempts (a shared token bucket); checked before
   * anything else, so a flood is refused from memory once the IP's bucket is empty. Absent: no limit.
   */
  admitUpgrade?: (ip: string) => Promise<RateDecision>;
}

function hostnameOf(req: IncomingMessage): string {
  const host = (req.headers.host ?? '').toLowerCase();
  // `[::1]:8080` → `[::1]`; `dev-7.example.com:8080` → `dev-7.example.com`
  return host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : (host.split(':')[0] ?? '');
}

/** As Koa does for requests: only the entries our own proxies appended are believed; the client may forge the rest. */
/**
 * The one `upgrade` listener of the HTTP server. It routes by Host, then by path; answers
 * unknown paths, bad origins and refused authorisations with an HTTP error envelope before
 * any upgrade; and keeps every open socket so shutdown can close them with 1001.
 */
export class UpgradeDispatcher {
  readonly sockets = new Set<WebSocket>();
  /** Upgrades handed over raw (proxied whole); destroyed at shutdown. */
  readonly rawSockets = new Set<Duplex>();
  private readonly servers = new Map<number, WebSocketServer>();
  /** The subprotocol a route chose for an upgrade (false: none), read by the server's handleProtocols. */
  private readonly chosenProtocols = new WeakMap<IncomingMessage, string | false>();
  private draining = false;

  constructor(private readonly options: UpgradeDispatcherOptions) {}

  private serverFor(maxPayload: number): WebSocketServer {
    let server = this.servers.get(maxPayload);
    if (!server) {
      server = new WebSocketServer({
        noServer: true,
        maxPayload,
        perMessageDeflate: false,
        handleProtocols: (offered, req) => (this.chosenProtocols.has(req) ? (this.chosenProtocols.get(req) as string | false) : (offered.values().next().value ?? false)),
      });
      this.servers.set(maxPayload, server);
    }
    return server;
  }

  private match(req: IncomingMessage, url: URL): { mounted: MountedWebSocketRoute; params: Record<string, string> } | null {
    const hostname = hostnameOf(req);
    // Host-routed endpoints (hosted IDE) win over path routes: on their hosts every path is theirs.
    for (const mounted of this.options.routes) {
      if (!mounted.route.host) continue;
      const hostParams = mounted.route.host(hostname);
      if (!hostParams) continue;
      const pathParams = mounted.fullPath === null ? {} : matchPath(mounted.fullPath, url.pathname);
      if (pathParams) return { mounted, params: { ...hostParams, ...pathParams } };
    }
    for (const mounted of this.options.routes) {
      if (mounted.route.host || mounted.fullPath === null) continue;
      const params = matchPath(mounted.fullPath, url.pathname);
      if (params) return { mounted, params };
    }
    return null;
  }

  handle(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const started = performance.now();
    const requestId = requestIdFrom(req.headers['x-request-id']);
    const log = this.options.log.child({ request_id: requestId });
    // First thing: a reset from the client must never become an unhandled 'error'.
    socket.on('error', (err) => log.debug({ err }, 'upgrade socket error'));
    const path = redactUrl(req.url ?? '/');
    const finish = (status: number): void => {
      // A flood's refusals stay out of the info log: each line would cost more than the refusal.
      log[status === 429 ? 'debug' : 'info']({ method: req.method, path, status, upgrade: true, duration_ms: Math.round((performance.now() - started) * 1000) / 1000 }, 'upgrade');
    };
    this.route(req, socket, head, requestId, log).then(
      (status) => finish(status),
      (err: unknown) => {
        const appError = err instanceof AppError ? err : null;
        if (!appError) log.error({ err }, 'unexpected error during upgrade');
        const status = appError?.status ?? 500;
        this.refuse(socket, appError ?? new AppError(500, 'INTERNAL_ERROR', 'Internal server error', 'Something went wrong on our side'), requestId);
        finish(status);
      },
    );
  }

  private async route(req: IncomingMessage, socket: Duplex, head: Buffer, requestId: string, log: Logger): Promise<number> {
    if (this.draining) throw new ServiceUnavailableError('SHUTTING_DOWN', 'This instance is shutting down; reconnect', 1);
    const ip = clientIp(req, this.options.proxyHops);
    await this.admit(ip, log);
    const url = new URL(req.url ?? '/', 'http://upgrade.invalid');
    const found = this.match(req, url);
    if (!found) throw new NotFoundError('WebSocket endpoint');
    const { route } = found.mounted;
    const originHeader = req.headers.origin;
    const ctx: UpgradeContext = {
      req,
      url,
      params: found.params,
      requestId,
      ip,
      origin: typeof originHeader === 'string' ? originHeader : null,
      log,
    };
    if (ctx.origin !== null && !this.originAllowed(route.origin ?? 'panel', ctx.origin, ctx)) {
      throw new ForbiddenError('ORIGIN_NOT_ALLOWED', "This page's origin may not open this WebSocket");
    }
    if (route.subprotocol) {
      const offered = String(req.headers['sec-websocket-protocol'] ?? '')
        .split(',')
        .map((p) => p.trim())
        .filter((p) => p !== '');
      this.chosenProtocols.set(req, route.subprotocol(offered) ?? false);
    }
    const grant = await withDeadline(route.authorize(ctx), authorizeTimeoutMs);
    if (socket.destroyed) return 499;
    // Shutdown may have begun while we were authorising.
    if (this.draining) throw new ServiceUnavailableError('SHUTTING_DOWN', 'This instance is shutting down; reconnect', 1);
    if (route.onUpgrade) {
      this.rawSockets.add(socket);
      socket.once('close', () => this.rawSockets.delete(socket));
      route.onUpgrade(req, socket, head, ctx, grant);
      return 101;
    }
    const server = this.serverFor(route.maxPayloadBytes ?? defaultMaxPayload);
    server.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', (err) => log.debug({ err }, 'websocket error'));
      this.sockets.add(ws);
      ws.once('close', () => this.sockets.delete(ws));
      try {
        route.onConnection?.(ws, ctx, grant);
      } catch (err) {
        log.error({ err }, 'websocket handler failed');
        ws.close(1011, 'internal error');
      }
    });
    return 101;
  }

  private async admit(ip: string, log: Logger): Promise<void> {
    if (!this.options.admitUpgrade) return;
    let decision: RateDecision;
    try {
      decision = await this.options.admitUpgrade(ip);
    } catch (err) {
      // The database is down: authorising needs it too and will refuse; the limit must not turn an outage into 500s.
      log.debug({ err }, 'upgrade rate not checked');
      return;
    }
    if (decision.allowed) return;
    const retryAfterS = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
    throw new AppError(
      429,
      'UPGRADE_RATE_LIMITED',
      'Too many requests',
      `Too many WebSocket upgrades from this address; retry in ${retryAfterS} s`,
      { retry_after: retryAfterS },
      { 'Retry-After': String(retryAfterS) },
    );
  }

  private originAllowed(rule: 'panel' | 'any' | ((origin: string, ctx: UpgradeContext) => boolean), origin: string, ctx: UpgradeContext): boolean {
    if (rule === 'any') return true;
    if (rule === 'panel') return this.options.allowedOrigins.has(origin);
    return rule(origin, ctx);
  }

  private refuse(socket: Duplex, error: AppError, requestId: string): void {
    if (socket.destroyed) return;
    socket.end(rawErrorResponse(error, requestId));
  }

  /** Refuses new upgrades and closes open sockets with 1001 ("going away"); cuts laggards after `graceMs`. */
  async closeAll(graceMs: number): Promise<void> {
    this.draining = true;
    const open = [...this.sockets];
    await Promise.race([
      Promise.all(
        open.map(
          (ws) =>
            new Promise<void>((resolve) => {
              ws.once('close', () => resolve());
              ws.close(1001, 'server shutting down');
            }),
        ),
      ),
      new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref()),
    ]);
    for (const ws of this.sockets) ws.terminate();
    for (const socket of this.rawSockets) socket.destroy();
    for (const server of this.servers.values()) server.close();
  }
}
