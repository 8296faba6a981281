import { AppError, MethodNotAllowedError, matchPath, type RawHttpHandler, type RouteDefinition } from '../../../src/plugin-api/index.ts';
import type { V1Api } from './api.ts';
import { buckets } from './buckets.ts';

/**
 * Requests under `/api/v1` that match no route (unknown path: 404, wrong method: 405) still
 * get the envelope and the `X-RateLimit-*` headers, like every `/api/v1` answer (addendum).
 * Declines everything a route will take.
 */
export function unmatchedV1(v1: V1Api, routes: readonly RouteDefinition[]): RawHttpHandler {
  const methodsFor = (path: string): string[] => routes.filter((r) => matchPath(r.path, path) !== null).map((r) => r.method.toUpperCase());
  return {
    name: 'streamspace:unmatched',
    pathPrefix: '/api/v1',
    accepts: (ctx) => {
      const allowed = methodsFor(ctx.path);
      const method = ctx.method === 'HEAD' ? 'GET' : ctx.method;
      return !allowed.includes(method) && ctx.method !== 'OPTIONS';
    },
    handle: async (ctx) => {
      let subject = `ip:${ctx.ip}`;
      try {
        subject = `user:${(await v1.authenticate(ctx.get('authorization') || undefined)).userId}`;
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
      }
      await v1.count(ctx, buckets.api, subject);
      const allowed = methodsFor(ctx.path);
      if (allowed.length > 0) throw new MethodNotAllowedError(allowed);
      throw new AppError(404, 'NOT_FOUND', 'Not found', `No route ${ctx.method} ${ctx.path}; see GET /openapi.json for the /api/v1 routes`);
    },
  };
}
