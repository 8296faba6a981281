import { z } from 'zod';
import { AppError, InvalidJsonError, MethodNotAllowedError, NotFoundError, PayloadTooLargeError, UnsupportedMediaTypeError } from './errors.ts';
import { databaseUnavailable } from './database-gate.ts';

/** The one error body of every non-2xx answer (API.md "Everywhere"). */
export const errorEnvelopeSchema = z
  .object({
    error: z.string(),
    message: z.string(),
    code: z.string().regex(/^[A-Z][A-Z0-9_]*$/),
    details: z.record(z.string(), z.unknown()),
    timestamp: z.iso.datetime(),
    request_id: z.string(),
    retry_after: z.number().int().optional().describe('On 429: seconds until the limit resets (also in details and Retry-After)'),
  })
  .describe('Error envelope returned by every non-2xx answer');

export type ErrorEnvelope = z.infer<typeof errorEnvelopeSchema>;

export function envelopeFor(error: AppError, requestId: string): ErrorEnvelope {
  const retryAfter = error.status === 429 ? error.details.retry_after : undefined;
  return {
    error: error.title,
    message: error.message,
    code: error.code,
    details: error.details,
    timestamp: new Date().toISOString(),
    request_id: requestId,
    ...(typeof retryAfter === 'number' ? { retry_after: retryAfter } : {}),
  };
}

/**
 * Connection failures that reach the edge unwrapped come from the database: agent, Stripe and
 * proxy code wrap their own transport errors in domain errors before they get here.
 */
const databaseDownCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', '57P01', '57P02', '57P03', '57014', '08000', '08001', '08003', '08006']);
/**
 * What pg throws without a code when a connection is lost mid-query, cannot be made within
 * `database.connect_timeout_ms`, or gets no reply within `database.query_timeout_ms` + 1 s
 * (client.js, connection.js).
 */
const databaseDownMessages = new Set([
  'Connection terminated unexpectedly',
  'Connection terminated',
  'Connection terminated due to connection timeout',
  'timeout expired',
  'Query read timeout',
  'Client was closed and is not queryable',
  'Client has encountered a connection error and is not queryable',
]);

/** knex puts the statement in front of the driver's message ("select ... - Query read timeout"). */
function isDatabaseDownMessage(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const at = err.message.lastIndexOf(' - ');
  return databaseDownMessages.has(err.message) || (at >= 0 && databaseDownMessages.has(err.message.slice(at + 3)));
}

function propertyOf(err: unknown, name: string): unknown {
  return typeof err === 'object' && err !== null ? (err as Record<string, unknown>)[name] : undefined;
}

/**
 * Maps anything thrown to a domain error. Errors raised by libraries (the body parser, the
 * router, the database driver) are translated here, in one place; `null` means "unexpected":
 * the caller answers 500 and logs the stack.
 */
export function toAppError(err: unknown, bodyLimitBytes: number): AppError | null {
  if (err instanceof AppError) return err;
  const type = propertyOf(err, 'type');
  const status = propertyOf(err, 'status');
  // co-body marks a body that is not JSON (or is prototype-poisoned JSON) as a 400 SyntaxError.
  if (type === 'entity.parse.failed' || (err instanceof SyntaxError && status === 400)) return new InvalidJsonError();
  if (type === 'entity.too.large') return new PayloadTooLargeError(bodyLimitBytes);
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') return new UnsupportedMediaTypeError('UTF-8 JSON');
  if (status === 404) return new NotFoundError();
  if (status === 405) {
    const allowed = propertyOf(propertyOf(err, 'headers'), 'Allow');
    return new MethodNotAllowedError(typeof allowed === 'string' ? allowed.split(/,\s*/) : []);
  }
  // Other client errors from the body parser (aborted upload, wrong Content-Length...).
  if (propertyOf(err, 'expose') === true && typeof status === 'number' && status >= 400 && status < 500) {
    return new AppError(status, 'BAD_REQUEST', 'Bad request', err instanceof Error ? err.message : 'The request could not be read');
  }
  const code = propertyOf(err, 'code');
  const name = propertyOf(err, 'name');
  if ((typeof code === 'string' && databaseDownCodes.has(code)) || name === 'KnexTimeoutError' || isDatabaseDownMessage(err)) {
    return databaseUnavailable();
  }
  return null;
}
