import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import httpProxy from 'http-proxy';
import type { Logger } from '../log/logger.ts';

export interface ReverseProxySettings {
  /** An upstream silent this long (no bytes either way) is cut: 504 before the answer started. */
  idleTimeoutMs: number;
  /** Pooled keep-alive connections per upstream. */
  maxSockets: number;
  log: Logger;
}

export interface ProxyCall {
  /** Upstream origin, `http://127.0.0.1:8443`. */
  target: string;
  /** Path and query to ask the upstream for (a path-mode prefix already stripped). */
  path: string;
  /** The host the browser sees (with its port), sent as X-Forwarded-Host. */
  publicHost: string;
  publicProto: 'http' | 'https';
  clientIp: string;
  /** Cookie names of the panel's own that must never reach the upstream. */
  isPanelCookie: (name: string) => boolean;
  /** Headers added to every answer (a CSP for path mode). */
  responseHeaders?: Record<string, string>;
  /** Answers a failure before the upstream's answer started (status 502/504, a code and a message). */
  onFailure(res: ServerResponse, status: number, code: string, message: string): void;
}

/** RFC 9110 hop-by-hop headers, plus those a client might use to smuggle proxy hints. */
const hopByHop = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade'];
const forwardingHeaders = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port', 'x-forwarded-prefix', 'x-real-ip'];

function keepCookies(header: string | undefined, isPanelCookie: (name: string) => boolean): string | undefined {
  if (!header) return undefined;
  const kept = header
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part !== '' && !isPanelCookie(part.split('=')[0]?.trim() ?? ''));
  return kept.length > 0 ? kept.join('; ') : undefined;
}

/**
 * Rewrites the client's headers for the upstream: no panel credentials (Authorization, our
 * cookies), no client-made forwarding headers, our own X-Forwarded-*, hop-by-hop headers
 * dropped (except the upgrade pair on WebSockets).
 */
function scrubRequest(req: IncomingMessage, call: ProxyCall, upgrade: boolean): void {
  const h = req.headers;
  delete h.authorization;
  const cookies = keepCookies(h.cookie, call.isPanelCookie);
  if (cookies === undefined) delete h.cookie;
  else h.cookie = cookies;
  for (const name of forwardingHeaders) delete h[name];
  for (const name of hopByHop) if (!(upgrade && (name === 'connection' || name === 'upgrade'))) delete h[name];
  h['x-forwarded-host'] = call.publicHost;
  h['x-forwarded-proto'] = call.publicProto;
  h['x-forwarded-for'] = call.clientIp;
  req.url = call.path;
}

/**
 * The one reverse proxy of the API (the IDE proxy uses it): HTTP as a plain pipe and
 * WebSockets through http-proxy, both over one shared keep-alive agent, every error listener
 * attached, an idle timeout that answers 504, and header hygiene both ways. Upstream CORS headers are removed: the upstream is reached only
 * through the panel and must not widen who may read it.
 */
export class ReverseProxy {
  private readonly agent: http.Agent;
  private readonly proxy: httpProxy;

  constructor(private readonly settings: ReverseProxySettings) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: settings.maxSockets, maxFreeSockets: Math.min(settings.maxSockets, 64), scheduling: 'lifo' });
    this.proxy = httpProxy.createProxyServer({ xfwd: false, changeOrigin: true, ws: true, agent: this.agent });
    // Errors without a per-call callback (a WebSocket's upstream side failing later) must never crash the process.
    this.proxy.on('error', (err, _req, target) => {
      settings.log.debug({ err }, 'proxy error');
      if (target && 'destroy' in target && typeof target.destroy === 'function' && !('writeHead' in target)) (target as Duplex).destroy();
    });
  }

  /**
   * Proxies one HTTP request; resolves when the answer has been sent or failed. A plain
   * `http.request` piped both ways over the shared keep-alive agent: bench:ide-proxy measured
   * it cheaper per request than http-proxy's passes, with the same hygiene.
   */
  web(req: IncomingMessage, res: ServerResponse, call: ProxyCall): Promise<void> {
    scrubRequest(req, call, false);
    const target = new URL(call.target);
    req.headers.host = target.host;
    return new Promise<void>((resolve) => {
      let timedOut = false;
      const upstream = http.request({ agent: this.agent, protocol: target.protocol, hostname: target.hostname, port: target.port, method: req.method, path: call.path, headers: req.headers });
      const fail = (err: NodeJS.ErrnoException): void => {
        if (res.headersSent) {
          res.destroy();
        } else if (timedOut || err.code === 'ETIMEDOUT') {
          call.onFailure(res, 504, 'IDE_TIMEOUT', 'The IDE did not answer in time; retry, or restart it from the portal');
        } else {
          call.onFailure(res, 502, 'IDE_UNREACHABLE', 'The IDE is not answering; start or restart it from the portal');
        }
        resolve();
      };
      upstream.on('response', (answer) => {
        const headers = answer.headers;
        for (const name of Object.keys(headers)) {
          if (name.startsWith('access-control-') || hopByHop.includes(name)) delete headers[name];
        }
        if (call.responseHeaders) for (const [name, value] of Object.entries(call.responseHeaders)) headers[name.toLowerCase()] = value;
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, headers);
        answer.on('error', () => res.destroy());
        answer.pipe(res);
      });
      upstream.on('error', fail);
      upstream.on('socket', (socket) => socket.setNoDelay(true));
      // Idle, not total: a long download that keeps moving is fine; a silent upstream is cut.
      upstream.setTimeout(this.settings.idleTimeoutMs, () => {
        timedOut = true;
        upstream.destroy(Object.assign(new Error('upstream idle'), { code: 'ETIMEDOUT' }));
      });
      // A client that goes away mid-answer takes the upstream request with it.
      res.once('close', () => {
        if (!res.writableFinished) upstream.destroy();
        resolve();
      });
      req.on('error', () => upstream.destroy());
      req.pipe(upstream);
    });
  }

  /** Proxies a WebSocket upgrade whole; any error on either side destroys both. */
  ws(req: IncomingMessage, socket: Duplex, head: Buffer, call: Omit<ProxyCall, 'onFailure' | 'responseHeaders'>): void {
    scrubRequest(req, { ...call, onFailure: () => undefined }, true);
    this.proxy.ws(req, socket, head, { target: call.target }, (err: Error) => {
      this.settings.log.debug({ err }, 'proxied WebSocket failed');
      socket.destroy();
    });
  }

  close(): void {
    this.proxy.close();
    this.agent.destroy();
  }
}
