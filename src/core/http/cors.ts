import type { Middleware } from 'koa';

/**
 * CORS for the portal: only listed origins get the Access-Control headers. No credentials
 * mode, because the API authenticates with bearer headers, never with cookies.
 */
export function cors(allowedOrigins: ReadonlySet<string>): Middleware {
  return async (ctx, next) => {
    const origin = ctx.get('Origin');
    if (origin === '' || !allowedOrigins.has(origin)) return next() as Promise<void>;
    ctx.vary('Origin');
    ctx.set('Access-Control-Allow-Origin', origin);
    ctx.set('Access-Control-Expose-Headers', 'X-Request-Id, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After');
    if (ctx.method === 'OPTIONS' && ctx.get('Access-Control-Request-Method') !== '') {
      ctx.set('Access-Control-Allow-Methods', 'GET, POST, PUT, PATCH, DELETE');
      ctx.set('Access-Control-Allow-Headers', ctx.get('Access-Control-Request-Headers') || 'Authorization, Content-Type');
      ctx.set('Access-Control-Max-Age', '600');
      ctx.status = 204;
      return;
    }
    await next();
  };
}
