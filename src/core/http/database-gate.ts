import type { Middleware } from 'koa';
import { ServiceUnavailableError } from './errors.ts';

/** What answers without the database: liveness (a restart would not help), metrics and the API's own description and its reference page. */
const answeredWithoutDatabase = new Set(['/healthz', '/metrics', '/openapi.json', '/docs']);

/** The answer of every request that needs the database while the server is unreachable. */
export const databaseUnavailable = (): ServiceUnavailableError => new ServiceUnavailableError('DATABASE_UNAVAILABLE', 'The database is unavailable; retry in a few seconds', 2);

/**
 * While the database health check says the server is down, a request answers 503 at once:
 * without this it would wait for a pooled connection (or on one the network lost) for seconds,
 * and a request turned away here has not started, so nothing of it is half-applied.
 */
export function databaseGate(databaseUp: () => boolean): Middleware {
  return async (ctx, next) => {
    if (!databaseUp() && !answeredWithoutDatabase.has(ctx.path)) throw databaseUnavailable();
    await next();
  };
}
