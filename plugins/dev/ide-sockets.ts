import { defineWebSocket, UnauthorizedError, type HttpProxy, type WebSocketRoute } from '../../src/plugin-api/index.ts';
import { IdeAccessError, type IdeGrant, type IdeSessions } from './ide-sessions.ts';
import type { IdeUrls } from './ide-urls.ts';
import { cookieValue, hostedCookie, isPanelCookie, pathCookie } from './ide-answers.ts';

/**
 * IDE WebSockets (code-server does everything over them): the session cookie is checked as
 * for HTTP, `Origin` must be the IDE's own origin, then the upgrade is proxied whole. The
 * socket is tracked, so ending the session closes it.
 */
export function ideSockets(sessions: IdeSessions, urls: IdeUrls, proxy: HttpProxy): WebSocketRoute[] {
  const asUnauthorized = (err: unknown): never => {
    if (err instanceof IdeAccessError && err.status === 401) throw new UnauthorizedError(err.code, err.message);
    throw err;
  };
  const hosted = defineWebSocket<{ grant: IdeGrant; path: string }>({
    host: (hostname) => {
      const vmid = urls.vmidOf(hostname);
      return vmid === null ? null : { vmid: String(vmid) };
    },
    origin: (origin, ctx) => urls.isHostedOrigin(origin, Number(ctx.params.vmid)),
    authorize: async (ctx) => {
      const vmid = Number(ctx.params.vmid);
      const grant = await sessions.authorize(cookieValue(ctx.req.headers.cookie, hostedCookie(vmid, urls.scheme === 'https')), { mode: 'hosted', vmid }).catch(asUnauthorized);
      return { grant, path: ctx.req.url ?? '/' };
    },
    onUpgrade: (req, socket, head, ctx, { grant, path }) => {
      sessions.track(grant.idHash, socket);
      proxy.ws(req, socket, head, { target: grant.target, path, publicHost: req.headers.host ?? '', publicProto: urls.scheme, clientIp: ctx.ip, isPanelCookie });
    },
  });
  if (!urls.pathModeEnabled) return [hosted];

  const pathHostname = urls.pathHost.split(':')[0] as string;
  const pathMode = defineWebSocket<{ grant: IdeGrant; path: string }>({
    path: '/__ide/:id/*',
    origin: (origin) => urls.isPathOrigin(origin),
    authorize: async (ctx) => {
      if ((ctx.req.headers.host ?? '').split(':')[0]?.toLowerCase() !== pathHostname) throw new IdeAccessError('NOT_FOUND', 'No such IDE', 404);
      const id = ctx.params.id ?? '';
      const grant = await sessions.authorize(cookieValue(ctx.req.headers.cookie, pathCookie(id, urls.scheme === 'https')), { mode: 'path', instanceId: id }).catch(asUnauthorized);
      return { grant, path: `/${ctx.params['*'] ?? ''}${ctx.url.search}` };
    },
    onUpgrade: (req, socket, head, ctx, { grant, path }) => {
      sessions.track(grant.idHash, socket);
      proxy.ws(req, socket, head, { target: grant.target, path, publicHost: req.headers.host ?? '', publicProto: urls.scheme, clientIp: ctx.ip, isPanelCookie });
    },
  });
  return [hosted, pathMode];
}
