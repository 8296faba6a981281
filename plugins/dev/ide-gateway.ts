import type { Context } from 'koa';
import { AppError, type Logger, type RawHttpHandler, type HttpProxy } from '../../src/plugin-api/index.ts';
import type { IdeEntrance, IdeSessions } from './ide-sessions.ts';
import type { IdeUrls } from './ide-urls.ts';
import { answerError, cookieValue, hostedCookie, isPanelCookie, pathCookie, pathModeHeaders } from './ide-answers.ts';

export interface IdeGatewayDeps {
  sessions: IdeSessions;
  urls: IdeUrls;
  proxy: HttpProxy;
  /** Where the "open the IDE from the portal" pages link to. */
  portalUrl: string;
  /** True once for a container whose hosted origin (its vmid) was used before: clear its site data. */
  takeSiteDataClear: (instanceId: string) => Promise<boolean>;
  log: Logger;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Entrance extends IdeEntrance {
  cookieName: string;
  cookiePath: string;
  /** Path and query for the IDE (path mode: the prefix stripped). */
  upstreamPath: string;
  extraHeaders: Readonly<Record<string, string>>;
}

/**
 * The IDE entrances over HTTP, ahead of every API route and body parser: hosted
 * (`dev-<vmid>.<suffix>`, all paths) and, when enabled, path mode (`/__ide/<id>/...`). A
 * link's `ide_token` is spent for a session cookie and a 303 to the same URL without it; a
 * cookie is checked and the request proxied as the browser sent it, minus panel credentials.
 */
export function ideEntrances(deps: IdeGatewayDeps): RawHttpHandler[] {
  const { sessions, urls, proxy } = deps;
  const secure = urls.scheme === 'https';

  async function serve(ctx: Context, at: Entrance): Promise<void> {
    ctx.respond = false;
    const { req, res } = ctx;
    const requestId = String(ctx.state.requestId ?? '');
    try {
      const token = ctx.query.ide_token;
      if (typeof token === 'string') {
        const opened = await sessions.redeem(token, { mode: at.mode, vmid: at.vmid, instanceId: at.instanceId, host: ctx.hostname });
        const clean = new URL(ctx.originalUrl, 'http://ide.invalid');
        clean.searchParams.delete('ide_token');
        const maxAge = Math.max(0, Math.floor((opened.expiresAt.getTime() - Date.now()) / 1000));
        // Path mode's origin is the panel's: only a hosted origin belongs to the vmid alone.
        const clear = at.mode === 'hosted' && (await deps.takeSiteDataClear(opened.instanceId));
        res.writeHead(303, {
          ...(clear ? { 'Clear-Site-Data': '"storage"' } : {}),
          Location: `${clean.pathname}${clean.search}`,
          'Set-Cookie': `${at.cookieName}=${opened.sessionId}; Path=${at.cookiePath}; Max-Age=${maxAge}; HttpOnly;${secure ? ' Secure;' : ''} SameSite=Lax`,
          'Cache-Control': 'no-store',
          'Referrer-Policy': 'no-referrer',
          'X-Request-Id': requestId,
          ...at.extraHeaders,
        });
        res.end();
        return;
      }
      const grant = await sessions.authorize(cookieValue(req.headers.cookie, at.cookieName), at);
      await proxy.web(req, res, {
        target: grant.target,
        path: at.upstreamPath,
        publicHost: ctx.host,
        publicProto: urls.scheme,
        clientIp: ctx.ip,
        isPanelCookie,
        responseHeaders: at.extraHeaders,
        onFailure: (failed, status, code, message) => answerError(req, failed, new AppError(status, code, 'IDE unavailable', message), requestId, deps.portalUrl, at.extraHeaders),
      });
    } catch (err) {
      if (!(err instanceof AppError)) deps.log.error({ err }, 'IDE entrance failed');
      const error = err instanceof AppError ? err : new AppError(500, 'INTERNAL_ERROR', 'Internal server error', 'Something went wrong on our side');
      answerError(req, res, error, requestId, deps.portalUrl, at.extraHeaders);
    }
  }

  // A line per proxied IDE request (an editor loads hundreds) is debug; the metrics count them all.
  const hosted: RawHttpHandler = {
    name: 'ide:hosted',
    accessLogLevel: 'debug',
    host: (hostname) => {
      const vmid = urls.vmidOf(hostname);
      return vmid === null ? null : { vmid: String(vmid) };
    },
    handle: async (ctx, params) => {
      const vmid = Number(params.vmid);
      await serve(ctx, { mode: 'hosted', vmid, cookieName: hostedCookie(vmid, secure), cookiePath: '/', upstreamPath: ctx.originalUrl, extraHeaders: {} });
    },
  };
  if (!urls.pathModeEnabled) return [hosted];

  const pathHostname = urls.pathHost.split(':')[0] as string;
  const pathMode: RawHttpHandler = {
    name: 'ide:path',
    accessLogLevel: 'debug',
    pathPrefix: '/__ide',
    host: (hostname) => (hostname === pathHostname ? {} : null),
    handle: async (ctx) => {
      const [, , id = '', ...rest] = ctx.path.split('/');
      ctx.set(pathModeHeaders);
      if (!uuidPattern.test(id)) {
        ctx.respond = false;
        return answerError(ctx.req, ctx.res, new AppError(404, 'NOT_FOUND', 'Not found', 'No such IDE'), String(ctx.state.requestId ?? ''), deps.portalUrl, pathModeHeaders);
      }
      if (rest.length === 0) {
        // `/__ide/<id>` → `/__ide/<id>/`: the IDE's relative links and the cookie's path need the slash.
        ctx.status = 308;
        ctx.redirect(`/__ide/${id}/${ctx.querystring ? `?${ctx.querystring}` : ''}`);
        return;
      }
      const search = ctx.querystring ? `?${ctx.querystring}` : '';
      await serve(ctx, { mode: 'path', instanceId: id, cookieName: pathCookie(id, secure), cookiePath: `/__ide/${id}/`, upstreamPath: `/${rest.join('/')}${search}`, extraHeaders: pathModeHeaders });
    },
  };
  return [hosted, pathMode];
}
