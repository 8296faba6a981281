import { AppError, defineWebSocket, UnauthorizedError, type HttpProxy, type Limits, type UpgradeContext, type WebSocketRoute } from '../../src/plugin-api/index.ts';
import { IdeAccessError, type IdeGrant, type IdeSessions } from './ide-sessions.ts';
import type { IdeUrls } from './ide-urls.ts';
import { cookieValue, hostedCookie, isPanelCookie, pathCookie } from './ide-answers.ts';

/**
 * IDE WebSockets (code-server does everything over them): the session cookie is checked as
 * for HTTP, `Origin` must be the IDE's own origin, the user's socket cap (counted across
 * replicas) must have room, then the upgrade is proxied whole. The socket is tracked, so
 * ending the session closes it; closing it frees its place under the cap.
 */
export function ideSockets(sessions: IdeSessions, urls: IdeUrls, proxy: HttpProxy, limits: Limits, maxSocketsPerUser: number): WebSocketRoute[] {
  const asUnauthorized = (err: unknown): never => {
    if (err instanceof IdeAccessError && err.status === 401) throw new UnauthorizedError(err.code, err.message);
    throw err;
  };
  const takePlace = async (grant: IdeGrant, ctx: UpgradeContext): Promise<void> => {
    const place = await limits.acquireSlot([{ key: `ide-user:${grant.userId}`, limit: maxSocketsPerUser }], ctx.req.socket);
    if (!place.ok) {
      throw new AppError(
        429,
        'IDE_SOCKET_LIMIT',
        'Too many IDE connections',
        `You already have ${place.held} IDE connections open (the limit is ${maxSocketsPerUser}); close an IDE window and retry`,
        { limit: maxSocketsPerUser },
        { 'Retry-After': '5' },
      );
    }
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
      await takePlace(grant, ctx);
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
      await takePlace(grant, ctx);
      return { grant, path: `/${ctx.params['*'] ?? ''}${ctx.url.search}` };
    },
    onUpgrade: (req, socket, head, ctx, { grant, path }) => {
      sessions.track(grant.idHash, socket);
      proxy.ws(req, socket, head, { target: grant.target, path, publicHost: req.headers.host ?? '', publicProto: urls.scheme, clientIp: ctx.ip, isPanelCookie });
    },
  });
  return [hosted, pathMode];
}
