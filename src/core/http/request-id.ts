import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';

const acceptable = /^[A-Za-z0-9._:-]{1,128}$/;

/** Accepts a well-formed incoming id (so a trace spans the proxy in front of us) or makes one. */
export function requestIdFrom(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && acceptable.test(value) ? value : randomUUID();
}

export function requestId(): Middleware {
  return async (ctx, next) => {
    const id = requestIdFrom(ctx.headers['x-request-id']);
    ctx.state.requestId = id;
    ctx.set('X-Request-Id', id);
    await next();
  };
}
