import type { Middleware } from 'koa';
import type { Logger } from '../log/logger.ts';
import { AppError, MethodNotAllowedError, NotFoundError } from './errors.ts';
import { envelopeFor, toAppError } from './error-envelope.ts';
import { lingerWhenClosed } from './lingering-close.ts';

/** An unread body up to this is read and dropped to keep the connection; a longer one closes it. */
const drainableBytes = 64 * 1024;

class InternalError extends AppError {
  constructor() {
    super(500, 'INTERNAL_ERROR', 'Internal server error', 'Something went wrong on our side; retry, and quote the request id if it keeps happening');
  }
}

/**
 * The edge: every error thrown below becomes the envelope here, exactly once. Expected
 * errors are logged at debug level; unexpected ones get one error line with the stack, and
 * their body never carries it (nor any SQL).
 */
export function errorMiddleware(bodyLimitBytes: number): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      // A raw handler answered by itself (a proxy passing on an upstream 404): not ours to rewrite.
      if (ctx.respond === false) return;
      // The router leaves these as bare statuses; they get the envelope like everything else.
      if (ctx.status === 404 && ctx.body == null) throw new NotFoundError();
      if (ctx.status === 501 && ctx.body == null) throw new AppError(501, 'NOT_IMPLEMENTED', 'Not implemented', `The ${ctx.method} method is not supported`);
      if (ctx.status === 405 && ctx.body == null) throw new MethodNotAllowedError(ctx.response.get('Allow').split(/,\s*/).filter(Boolean));
    } catch (err) {
      const log = ctx.state.log as Logger;
      let appError = toAppError(err, bodyLimitBytes);
      if (appError === null) {
        log.error({ err }, 'unexpected error');
        appError = new InternalError();
      } else if (appError.status >= 500) {
        log.warn({ code: appError.code, err }, appError.message);
      } else {
        log.debug({ code: appError.code }, appError.message);
      }
      if (ctx.headerSent || !ctx.writable) {
        // The answer had started streaming; the status line is gone, so all we can do is cut it.
        ctx.res.destroy();
        return;
      }
      ctx.status = appError.status;
      ctx.set(appError.headers);
      // A big body is still coming (a 413 cut it at the limit, or the route refused before reading
      // it): Node would read the rest to reuse the connection, all 100 MB of it. Close instead.
      // A small declared one is cheaper to read and drop than the connection; a chunked one closes.
      // The close lingers, so a client (or nginx) still sending reads our answer, not a reset.
      const declared = Number(ctx.get('Content-Length') || Number.NaN);
      if (!ctx.req.complete && !(declared <= drainableBytes)) {
        ctx.set('Connection', 'close');
        lingerWhenClosed(ctx.req.socket);
      }
      ctx.remove('Content-Disposition');
      ctx.body = envelopeFor(appError, String(ctx.state.requestId));
    }
  };
}
