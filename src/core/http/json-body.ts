import { bodyParser } from '@koa/bodyparser';
import type { Context, Middleware } from 'koa';
import { AppError, UnsupportedMediaTypeError } from './errors.ts';

/** What the body parser can undo (RFC 9110 8.4.1 names are case-insensitive; one coding, no chains). */
const supportedEncodings = ['identity', 'gzip', 'deflate', 'br'];

export class UnsupportedContentEncodingError extends AppError {
  constructor(encoding: string) {
    super(
      415,
      'UNSUPPORTED_CONTENT_ENCODING',
      'Unsupported media type',
      `Content-Encoding '${encoding.slice(0, 40)}' is not supported; send the body as is, or in one of: ${supportedEncodings.join(', ')}`,
      { supported: supportedEncodings },
    );
  }
}

export class InvalidContentEncodingError extends AppError {
  constructor(encoding: string) {
    super(400, 'INVALID_CONTENT_ENCODING', 'Bad request', `The body is not valid ${encoding} data, as its Content-Encoding says it is`, { encoding });
  }
}

function hasBody(ctx: Context): boolean {
  const length = ctx.get('content-length');
  return ctx.get('transfer-encoding') !== '' || (length !== '' && length !== '0');
}

/** zlib's own failures (a corrupt or truncated stream): a numeric errno and a Z_ (or, for brotli, ERR__) code. */
const isZlibError = (err: unknown): boolean => {
  const { code, errno } = (err ?? {}) as { code?: unknown; errno?: unknown };
  return typeof errno === 'number' && typeof code === 'string' && (code.startsWith('Z_') || code.startsWith('ERR__'));
};

/**
 * JSON bodies: the type first (415), then the encoding (415 for one we cannot undo, 400 when
 * the bytes are not what it says), then co-body's own checks (400 INVALID_JSON, 413), through
 * @koa/bodyparser (the maintained successor of koa-bodyparser; same co-body underneath). Errors of
 * the layers below (the handler) pass through untouched.
 */
export function jsonBodyParser(limitBytes: number): Middleware {
  // Every method, as koa-bodyparser did (its successor parses only POST, PUT and PATCH by default), so a
  // route's body schema sees the same `{}` or parsed body whatever its method. Strict: only objects and arrays.
  const parse = bodyParser({ enableTypes: ['json'], jsonLimit: String(limitBytes), jsonStrict: true, parsedMethods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] });
  return async (ctx, next) => {
    if (!hasBody(ctx)) return parse(ctx, next) as Promise<void>;
    if (!ctx.is('application/json', '+json')) throw new UnsupportedMediaTypeError('application/json');
    const encoding = ctx.get('content-encoding').trim().toLowerCase();
    if (encoding !== '' && !supportedEncodings.includes(encoding)) throw new UnsupportedContentEncodingError(encoding);
    // The inflater matches names case-sensitively; the header's value is not.
    if (encoding !== '') ctx.req.headers['content-encoding'] = encoding;
    let parsed = false;
    try {
      await parse(ctx, async () => {
        parsed = true;
        await next();
      });
    } catch (err) {
      if (!parsed && isZlibError(err)) throw new InvalidContentEncodingError(encoding);
      throw err;
    }
  };
}
