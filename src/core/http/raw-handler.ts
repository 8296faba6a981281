import type { Context, Middleware } from 'koa';
import { isUnderPrefix } from './path-pattern.ts';

/**
 * A handler that takes whole requests before any route, body parser or CORS runs: by Host
 * (`dev-7.ide.example.com`: every path is its own) or by path prefix (`/__ide`). For proxies,
 * which must see the request exactly as the client sent it.
 */
export interface RawHttpHandler {
  /** Matches the request's hostname (port ignored); parameters, or null for no match. */
  host?: (hostname: string) => Record<string, string> | null;
  /** Absolute path prefix; with `host`, both must match. */
  pathPrefix?: string;
  /** A prefix handler may decline a request (return false): it then goes on to the routes. */
  accepts?: (ctx: Context) => boolean;
  /** A name for logs and metrics (`ide:hosted`). */
  name: string;
  handle(ctx: Context, params: Record<string, string>): Promise<void>;
}

export interface MountedRawHandler {
  owner: string;
  handler: RawHttpHandler;
}

/** Host-matched handlers first (on their hosts every path is theirs), then prefix handlers. */
export function rawHandlers(mounted: readonly MountedRawHandler[]): Middleware {
  const byHost = mounted.filter((m) => m.handler.host);
  const byPrefix = mounted.filter((m) => !m.handler.host && m.handler.pathPrefix);
  return async (ctx, next) => {
    if (mounted.length === 0) return next() as Promise<void>;
    for (const { handler } of byHost) {
      const params = handler.host?.(ctx.hostname.toLowerCase());
      if (!params) continue;
      if (handler.pathPrefix && !isUnderPrefix(ctx.path, handler.pathPrefix)) continue;
      ctx.state.routePattern = handler.name;
      return handler.handle(ctx, params);
    }
    for (const { handler } of byPrefix) {
      if (!isUnderPrefix(ctx.path, handler.pathPrefix as string)) continue;
      if (handler.accepts && !handler.accepts(ctx)) continue;
      ctx.state.routePattern = handler.name;
      return handler.handle(ctx, {});
    }
    return next() as Promise<void>;
  };
}
