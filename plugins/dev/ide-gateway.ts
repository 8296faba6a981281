import { AppError, type FrontHttpHandler, type FrontRequest, type HttpProxy, type Logger } from '../../src/plugin-api/index.ts';
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

/** The `ide_token` of a query string, without parsing the rest (most IDE requests have none). */
function ideTokenOf(search: string): string | null {
  if (!search.includes('ide_token=')) return null;
  return new URLSearchParams(search).get('ide_token');
}

/**
 * The IDE entrances over HTTP, on the server's request listener ahead of the app (front
 * handlers): hosted (`dev-<vmid>.<suffix>`, all paths) and, when enabled, path mode
 * (`/__ide/<id>/...`). A link's `ide_token` is spent for a session cookie and a 303 to the
 * same URL without it; a cookie is checked (from the sessions' cache once warm) and the
 * request proxied as the browser sent it, minus panel credentials.
 */
export function ideEntrances(deps: IdeGatewayDeps): FrontHttpHandler[] {
  const { sessions, urls, proxy } = deps;
  const secure = urls.scheme === 'https';

  async function serve(front: FrontRequest, at: Entrance): Promise<void> {
    const { req, res, requestId } = front;
    try {
      const token = ideTokenOf(front.search);
      if (token !== null) {
        const opened = await sessions.redeem(token, { mode: at.mode, vmid: at.vmid, instanceId: at.instanceId, host: front.hostname });
        const clean = new URLSearchParams(front.search);
        clean.delete('ide_token');
        const query = clean.toString();
        const maxAge = Math.max(0, Math.floor((opened.expiresAt.getTime() - Date.now()) / 1000));
        // Path mode's origin is the panel's: only a hosted origin belongs to the vmid alone.
        const clear = at.mode === 'hosted' && (await deps.takeSiteDataClear(opened.instanceId));
        res.writeHead(303, {
          ...(clear ? { 'Clear-Site-Data': '"storage"' } : {}),
          Location: `${front.pathname}${query ? `?${query}` : ''}`,
          'Set-Cookie': `${at.cookieName}=${opened.sessionId}; Path=${at.cookiePath}; Max-Age=${maxAge}; HttpOnly;${secure ? ' Secure;' : ''} SameSite=Lax`,
          'Cache-Control': 'no-store',
          'Referrer-Policy': 'no-referrer',
          ...at.extraHeaders,
        });
        res.end();
        return;
      }
      const grant = await sessions.authorize(cookieValue(req.headers.cookie, at.cookieName), at);
      await proxy.web(req, res, {
        target: grant.target,
        path: at.upstreamPath,
        publicHost: front.host,
        publicProto: urls.scheme,
        clientIp: front.clientIp,
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
  const hosted: FrontHttpHandler = {
    name: 'ide:hosted',
    accessLogLevel: 'debug',
    match: (hostname) => {
      const vmid = urls.vmidOf(hostname);
      return vmid === null ? null : { vmid: String(vmid) };
    },
    serve: (front) => {
      const vmid = Number(front.params.vmid);
      return serve(front, { mode: 'hosted', vmid, cookieName: hostedCookie(vmid, secure), cookiePath: '/', upstreamPath: front.req.url ?? '/', extraHeaders: {} });
    },
  };
  if (!urls.pathModeEnabled) return [hosted];

  const pathHostname = urls.pathHost.split(':')[0] as string;
  const pathMode: FrontHttpHandler = {
    name: 'ide:path',
    accessLogLevel: 'debug',
    match: (hostname, pathname) => (hostname === pathHostname && (pathname === '/__ide' || pathname.startsWith('/__ide/')) ? {} : null),
    serve: async (front) => {
      const { req, res } = front;
      const [, , id = '', ...rest] = front.pathname.split('/');
      if (!uuidPattern.test(id)) {
        return answerError(req, res, new AppError(404, 'NOT_FOUND', 'Not found', 'No such IDE'), front.requestId, deps.portalUrl, pathModeHeaders);
      }
      if (rest.length === 0) {
        // `/__ide/<id>` → `/__ide/<id>/`: the IDE's relative links and the cookie's path need the slash.
        res.writeHead(308, { Location: `/__ide/${id}/${front.search}`, ...pathModeHeaders }).end();
        return;
      }
      await serve(front, {
        mode: 'path',
        instanceId: id,
        cookieName: pathCookie(id, secure),
        cookiePath: `/__ide/${id}/`,
        upstreamPath: `/${rest.join('/')}${front.search}`,
        extraHeaders: pathModeHeaders,
      });
    },
  };
  return [hosted, pathMode];
}
