import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { z } from 'zod';
import type { Logger } from '../log/logger.ts';
import { ForbiddenError, RateLimitedError, ValidationError, type ValidationIssue } from './errors.ts';
import { jsonBodyParser } from './json-body.ts';
import { nulIssues } from './nul-strings.ts';
import type { Authenticator, Principal, TicketRedeemer } from './principal.ts';
import './request-state.ts';
import type { RateLimiter, RateLimitState } from './rate-limiter.ts';
import type { MountedRoute, RouteDefinition, RouteIssue, RouteRequest, RouteResult } from './route.ts';

export interface MountOptions {
  bodyLimitBytes: number;
  validateResponses: boolean;
  authenticate: Authenticator;
  redeemTicket: TicketRedeemer;
  rateLimiter: RateLimiter;
}

function valueAt(value: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let at = value;
  for (const key of path) {
    if (typeof at !== 'object' || at === null) return undefined;
    at = (at as Record<PropertyKey, unknown>)[key];
  }
  return at;
}

function parsePart(location: RouteIssue['location'], schema: z.ZodType | undefined, value: unknown, issues: RouteIssue[]): unknown {
  if (!schema) return undefined;
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) {
    const path = issue.path.map((k) => (typeof k === 'number' ? k : String(k)));
    issues.push({ location, path, code: issue.code, message: issue.message, missing: issue.code === 'invalid_type' && valueAt(value, issue.path) === undefined });
  }
  return undefined;
}

function invalidInput(route: RouteDefinition, issues: RouteIssue[]): Error {
  if (route.invalid) return route.invalid(issues);
  const flat: ValidationIssue[] = issues.map((i) => ({ path: [i.location, ...i.path.map(String)].join('.'), message: i.message }));
  return new ValidationError(flat);
}

function setRateLimitHeaders(ctx: Context, state: RateLimitState): void {
  ctx.set('X-RateLimit-Limit', String(state.limit));
  ctx.set('X-RateLimit-Remaining', String(state.remaining));
  ctx.set('X-RateLimit-Reset', String(Math.ceil(state.resetAt.getTime() / 1000)));
}

/** Counts the hits, sets the headers of the limit closest to running out, and refuses past any limit. */
async function enforce(ctx: Context, limiter: RateLimiter, hits: Array<{ name: string; subject: string }>): Promise<void> {
  if (hits.length === 0) return;
  const states = await Promise.all(hits.map((hit) => limiter.consume(hit.name, hit.subject)));
  const tightest = states.reduce((a, b) => (b.remaining < a.remaining || (!b.allowed && a.allowed) ? b : a));
  setRateLimitHeaders(ctx, tightest);
  const refused = states.filter((s) => !s.allowed);
  if (refused.length > 0) {
    const resetMs = Math.max(...refused.map((s) => s.resetAt.getTime()));
    throw new RateLimitedError(Math.max(1, Math.ceil((resetMs - Date.now()) / 1000)));
  }
}

const idParam = (params: Record<string, unknown>): string | null => (typeof params.id === 'string' ? params.id : null);

/** Runs before the body parser, so an anonymous caller cannot make us read a large body. */
function authorize(route: RouteDefinition, options: MountOptions): Middleware {
  return async (ctx, next) => {
    const ticket = typeof ctx.query.ticket === 'string' ? ctx.query.ticket : undefined;
    const useTicket = route.ticketPurpose !== undefined && ticket !== undefined && ctx.headers.authorization === undefined;
    const principal: Principal = useTicket
      ? await options.redeemTicket(ticket, route.ticketPurpose as string, idParam(ctx.params as Record<string, unknown>))
      : await options.authenticate(ctx.headers);
    if (route.auth === 'admin' && principal.role !== 'admin') throw new ForbiddenError();
    ctx.state.principal = principal;
    await next();
  };
}

function checkResponse(route: RouteDefinition, result: RouteResult, status: number): void {
  const schema = route.responses[status];
  if (schema === undefined) throw new Error(`${route.method.toUpperCase()} ${route.path} answered ${status}, which it does not declare`);
  if (schema === null) return;
  const check = schema.safeParse(result.body);
  if (!check.success) {
    throw new Error(`${route.method.toUpperCase()} ${route.path} answered a ${status} body that does not match its schema: ${check.error.message}`);
  }
}

function handle(route: RouteDefinition, options: MountOptions): Middleware {
  return async (ctx) => {
    const issues: RouteIssue[] = [...nulIssues('params', ctx.params), ...nulIssues('query', ctx.query), ...nulIssues('body', ctx.request.body)];
    const params = parsePart('params', route.request?.params, ctx.params, issues);
    const query = parsePart('query', route.request?.query, ctx.query, issues);
    const body = parsePart('body', route.request?.body, ctx.request.body, issues);
    if (issues.length > 0) throw invalidInput(route, issues);

    const aborter = new AbortController();
    const onClose = (): void => {
      if (!ctx.res.writableFinished) aborter.abort(new Error('client disconnected'));
    };
    ctx.res.once('close', onClose);
    const req: RouteRequest = {
      params,
      query,
      body,
      principal: ctx.state.principal ?? null,
      requestId: String(ctx.state.requestId),
      ip: ctx.ip,
      headers: ctx.headers,
      log: ctx.state.log as Logger,
      signal: aborter.signal,
      limit: (name, subject) => enforce(ctx, options.rateLimiter, [{ name, subject }]),
      ctx,
    };
    if (!route.guard)
      await enforce(
        ctx,
        options.rateLimiter,
        (route.rateLimits ?? []).map((use) => ({ name: use.name, subject: use.key(req) })),
      );
    const result = await route.handler(req);
    if (result === undefined) return;
    const status = result.status ?? 200;
    if (options.validateResponses) checkResponse(route, result, status);
    if (route.contentType) ctx.type = route.contentType;
    for (const [name, value] of Object.entries(result.headers ?? {})) ctx.set(name, value);
    ctx.status = status;
    if (result.body !== undefined) ctx.body = result.body;
  };
}

/** Builds the router for every mounted route: body parsing, validation, auth, limits, handler. */
export function buildRouter(routes: MountedRoute[], options: MountOptions): Router {
  const router = new Router();
  for (const { fullPath, route } of routes) {
    const stack: Middleware[] = [
      async (ctx, next) => {
        ctx.state.routePattern = fullPath;
        await next();
      },
    ];
    if (route.guard) {
      const guard = route.guard;
      stack.push(async (ctx, next) => {
        const principal = await guard(ctx, route);
        if (route.auth !== 'none' && principal === null) throw new Error(`the guard of ${route.method.toUpperCase()} ${route.path} let an anonymous caller through`);
        if (route.auth === 'admin' && principal?.role !== 'admin') throw new ForbiddenError();
        ctx.state.principal = principal ?? undefined;
        await next();
      });
    } else if (route.auth !== 'none') stack.push(authorize(route, options));
    if ((route.bodyMode ?? 'json') === 'json' && route.request?.body) stack.push(jsonBodyParser(options.bodyLimitBytes));
    stack.push(handle(route, options));
    router.register(fullPath, [route.method], stack);
  }
  return router;
}
