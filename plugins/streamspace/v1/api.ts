import type { Context } from 'koa';
import { AppError, UnauthorizedError, type AudienceSessions, type Principal, type RateLimiter, type RouteDefinition, type RouteIssue } from '../../../src/plugin-api/index.ts';
import { v1Errors } from './api-errors.ts';
import { buckets, type Bucket } from './buckets.ts';

export const bearerOf = (header: string | undefined): string | null => /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1] ?? null;

/** The core's auth errors in the seed's vocabulary (a revoked token is an invalid one). */
const streamspaceToken = {
  name: 'streamspaceToken',
  scheme: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The StreamSpace token from POST /api/v1/auth/login (24 h; portal tokens are refused)' },
};

export function v1AuthError(err: unknown): unknown {
  if (err instanceof AppError && err.code === 'AUTH_TOKEN_REVOKED') return new UnauthorizedError('AUTH_TOKEN_INVALID', 'This token was revoked (logged out or the password changed); log in again');
  return err;
}

/** Addendum "Validation": missing field, bad parameter, or any other bad value; `details.field` names it. */
export function v1Invalid(issues: RouteIssue[]): Error {
  const first = issues[0] as RouteIssue;
  const field = first.path.length > 0 ? first.path.join('.') : first.location;
  const all = issues.map((i) => ({ field: i.path.join('.') || i.location, message: i.message }));
  if (first.location !== 'body')
    return new AppError(400, 'INVALID_PARAMETER', 'Invalid parameter', `Invalid ${first.location === 'query' ? 'query' : 'path'} parameter '${field}': ${first.message}`, { field, issues: all });
  if (first.missing) return new AppError(400, 'MISSING_REQUIRED_FIELD', 'Missing required field', `The field '${field}' is required`, { field, issues: all });
  return new AppError(400, 'VALIDATION_FAILED', 'Validation failed', `The field '${field}' is not valid: ${first.message}`, { field, issues: all });
}

/**
 * `/api/v1`'s front door: the plugin's own 24 h tokens (checked against the database every
 * time, so logout and disable end them at once; a database failure fails closed as 503), then
 * the seed's limits with `X-RateLimit-*` on every answer, errors included.
 */
export class V1Api {
  constructor(
    readonly tokens: AudienceSessions,
    private readonly limiter: RateLimiter,
  ) {}

  /** Counts one request and sets the headers; throws 429 past the limit. */
  async count(ctx: Context, bucket: Bucket, subject: string): Promise<void> {
    const state = await this.limiter.consume(bucket, subject);
    ctx.set('X-RateLimit-Limit', String(state.limit));
    ctx.set('X-RateLimit-Remaining', String(state.remaining));
    ctx.set('X-RateLimit-Reset', String(Math.ceil(state.resetAt.getTime() / 1000)));
    if (!state.allowed) throw v1Errors.rateLimited(Math.max(1, Math.ceil((state.resetAt.getTime() - Date.now()) / 1000)));
  }

  async authenticate(authorization: string | undefined): Promise<Principal> {
    const token = bearerOf(authorization);
    if (token === null) throw new UnauthorizedError('AUTH_TOKEN_MISSING', 'Send your token as "Authorization: Bearer <token>" (POST /api/v1/auth/login gives one)');
    try {
      return await this.tokens.verify(token);
    } catch (err) {
      throw v1AuthError(err);
    }
  }

  /** Makes a route (built with defineRoute) a `/api/v1` one: this guard, the seed's validation codes, the StreamSpace tag. */
  route(spec: RouteDefinition, bucket: Bucket = buckets.api): RouteDefinition {
    const guard = async (ctx: Context, route: RouteDefinition): Promise<Principal | null> => {
      let principal: Principal | null = null;
      let refusal: AppError | null = null;
      if (route.auth !== 'none') {
        try {
          principal = await this.authenticate(ctx.get('authorization') || undefined);
        } catch (err) {
          if (!(err instanceof AppError)) throw err;
          refusal = err;
        }
      }
      if (refusal) {
        // Authentication comes first, as on the portal's routes: a caller who is not signed in
        // hears 401 whatever the limit says. The hit is still counted, so the 401 carries the
        // headers like every answer.
        await this.count(ctx, bucket, `ip:${ctx.ip}`).catch((err: unknown) => {
          if (!(err instanceof AppError && err.status === 429)) throw err;
        });
        throw refusal;
      }
      await this.count(ctx, bucket, principal ? `user:${principal.userId}` : `ip:${ctx.ip}`);
      return principal;
    };
    // The document names the credential: this API's own 24-hour token, not the portal's.
    const securityScheme = spec.auth === 'none' ? undefined : streamspaceToken;
    return { ...spec, tags: spec.tags ?? ['streamspace'], guard, invalid: v1Invalid, ...(securityScheme ? { securityScheme } : {}) };
  }
}
