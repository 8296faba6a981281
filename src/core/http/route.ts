import type { IncomingHttpHeaders } from 'node:http';
import type { Context } from 'koa';
import type { z } from 'zod';
import type { Logger } from '../log/logger.ts';
import type { Principal } from './principal.ts';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** Who may call a route. Routes are closed by default: a public route says `auth: 'none'`. */
export type RouteAuth = 'none' | 'user' | 'admin';

type Schema = z.ZodType | undefined;
type Infer<S extends Schema> = S extends z.ZodType ? z.output<S> : undefined;

/** The caller a handler sees: never null behind `auth: 'user'` or `'admin'`. */
export type PrincipalFor<A extends RouteAuth> = A extends 'none' ? Principal | null : Principal;

export interface RouteRequest<P = unknown, Q = unknown, B = unknown, A extends RouteAuth = RouteAuth> {
  params: P;
  query: Q;
  body: B;
  requestId: string;
  ip: string;
  headers: IncomingHttpHeaders;
  /** Set on every route whose `auth` is not `none` (the type says so). */
  principal: PrincipalFor<A>;
  log: Logger;
  /** Aborted when the client goes away, so long work can stop early. */
  signal: AbortSignal;
  /** Counts one hit against a configured limit (for keys known only inside the handler); throws 429 past it. */
  limit: (name: string, subject: string) => Promise<void>;
  /** The raw Koa context, for routes that stream (`body: 'raw'`). Prefer the fields above. */
  ctx: Context;
}

export interface RouteResult {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface RateLimitUse {
  /** A key of `rate_limits` in config. */
  name: string;
  /** What the limit counts per: an IP, an account... */
  key(req: RouteRequest): string;
}

/** One problem with a request's params, query or body, for a route's own `invalid` mapping. */
export interface RouteIssue {
  location: 'params' | 'query' | 'body';
  path: Array<string | number>;
  /** zod's issue code (`invalid_type`, `too_small`...). */
  code: string;
  message: string;
  /** Whether the field is absent from what the client sent. */
  missing: boolean;
}

/**
 * A route's own front door, for plugins that keep a contract of their own (StreamSpace's
 * tokens, limits and headers): it replaces the core's authentication and rate limiting, runs
 * before the body is read, and returns the caller (null on a public route) or throws.
 */
export type RouteGuard = (ctx: Context, route: RouteDefinition) => Promise<Principal | null>;

export interface RouteSpec<P extends Schema = Schema, Q extends Schema = Schema, B extends Schema = Schema, A extends RouteAuth = RouteAuth> {
  method: HttpMethod;
  /** Relative to the owner's prefix for plugins without declared prefixes; absolute otherwise. */
  path: string;
  summary: string;
  /** The OpenAPI operationId; default `<method><Path>` in camelCase (`getApiAdminUsersId`). Set it only to keep an id stable across a path change. */
  operationId?: string;
  description?: string;
  tags?: string[];
  auth: A;
  /**
   * For clients that cannot send headers (EventSource, browser WebSockets): a `?ticket=`
   * issued for this purpose is accepted instead of the bearer header, once.
   */
  ticketPurpose?: string;
  /**
   * For the OpenAPI document: the credential this route takes when it is not the portal's
   * bearer token (a plugin's own token, the metrics token), as a named security scheme.
   */
  securityScheme?: { name: string; scheme: Record<string, unknown> };
  /** `json` parses and validates the body; `raw` leaves the request stream to the handler. */
  bodyMode?: 'json' | 'raw';
  request?: { params?: P; query?: Q; body?: B };
  /**
   * Status → success body schema (null: no body). Drives the OpenAPI document and test-time
   * checks. Error statuses belong in `errors`: every 4xx/5xx is the error envelope, whatever is here.
   */
  responses: Record<number, z.ZodType | null>;
  /**
   * The media type of the success bodies (default `application/json`): a page answers `text/html`
   * with a string body; `text/event-stream` documents the 200 schema as the schema of one event.
   */
  contentType?: string;
  rateLimits?: RateLimitUse[];
  /**
   * Error answers this route gives beyond the common ones (400, 401, 403, 404, 413, 415, 429 and
   * 500 are added from the route's shape), status → description naming the codes (OpenAPI).
   */
  errors?: Record<number, string>;
  /** Example request body and success bodies, shown in the OpenAPI document (every route has at least one; a test checks). */
  examples?: { body?: unknown; responses?: Record<number, unknown>; params?: Record<string, unknown> };
  /** Replaces the core's authentication and rate limiting for this route (see RouteGuard). */
  guard?: RouteGuard;
  /** Maps invalid input to the route's own error; default: 400 VALIDATION_FAILED with details.issues. */
  invalid?: (issues: RouteIssue[]) => Error;
  /** Returning nothing means the handler wrote `req.ctx` itself (streams). */
  handler(req: RouteRequest<Infer<P>, Infer<Q>, Infer<B>, A>): Promise<RouteResult | undefined>;
}

export type RouteDefinition = RouteSpec<Schema, Schema, Schema, RouteAuth>;

/** Identity function that lets TypeScript infer the handler's input types from the schemas. */
export function defineRoute<P extends Schema = undefined, Q extends Schema = undefined, B extends Schema = undefined, const A extends RouteAuth = RouteAuth>(
  spec: RouteSpec<P, Q, B, A>,
): RouteDefinition {
  return spec;
}

/** A route placed in the app: its absolute path and who contributed it. */
export interface MountedRoute {
  owner: string;
  fullPath: string;
  route: RouteDefinition;
}
