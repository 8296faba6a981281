import type { MountedRoute } from './route.ts';
import type { JsonSchema, SchemaCollector } from './openapi-schemas.ts';

const errorRef = { $ref: '#/components/schemas/Error' };

/** An example envelope, so a reader (and a mock server) sees the exact shape of an error. */
function envelopeExample(status: number, code: string, message: string): JsonSchema {
  const error =
    {
      400: 'Validation failed',
      401: 'Unauthorized',
      403: 'Forbidden',
      404: 'Not found',
      409: 'Conflict',
      413: 'Payload too large',
      415: 'Unsupported media type',
      429: 'Rate limit exceeded',
      500: 'Internal server error',
    }[status] ?? 'Error';
  return { error, message, code, details: {}, timestamp: '2026-11-23T09:00:00.000Z', request_id: '0f8c3e4a-6b1d-4f2e-9a7c-5d3b2e1f0a9c' };
}

/** The first upper-case code a description names (`... (LAST_ADMIN) ...`), for its example. */
function codeIn(description: string): string | null {
  return /\b([A-Z][A-Z0-9]*_[A-Z0-9_]+)\b/.exec(description)?.[1] ?? null;
}

/**
 * A 4xx/5xx answer: always the Error envelope in JSON, whatever the route declared. Only the
 * shared responses carry an example (one per shape is enough; one per route would double the document).
 */
export function errorResponse(status: number, description: string, withExample = false): JsonSchema {
  const code = codeIn(description) ?? (status >= 500 ? 'INTERNAL_ERROR' : 'ERROR');
  const example = withExample ? { example: envelopeExample(status, code, description) } : {};
  return { description, content: { 'application/json': { schema: errorRef, ...example } } };
}

const rateLimitHeaders = {
  'X-RateLimit-Limit': { schema: { type: 'integer' }, description: 'Requests allowed in the window' },
  'X-RateLimit-Remaining': { schema: { type: 'integer' }, description: 'Requests left in the window' },
  'X-RateLimit-Reset': { schema: { type: 'integer' }, description: 'When the window ends, in Unix epoch seconds' },
  'Retry-After': { schema: { type: 'integer' }, description: 'Seconds until the limit resets' },
};

/** The refusals many routes share, described once under `components.responses`. */
export const commonResponses: Record<string, { status: number; body: JsonSchema }> = {
  ValidationFailed: {
    status: 400,
    body: errorResponse(
      400,
      'Validation failed (VALIDATION_FAILED; a NUL character in any string is refused so), malformed JSON (INVALID_JSON), or a body that is not the Content-Encoding it claims (INVALID_CONTENT_ENCODING)',
      true,
    ),
  },
  Unauthorized: { status: 401, body: errorResponse(401, 'Missing, invalid or expired access token (AUTH_TOKEN_MISSING, AUTH_TOKEN_INVALID, AUTH_TOKEN_EXPIRED)', true) },
  Forbidden: { status: 403, body: errorResponse(403, 'Admins only (AUTH_INSUFFICIENT_PERMISSIONS)', true) },
  NotFound: { status: 404, body: errorResponse(404, 'No such resource, or it belongs to another user (NOT_FOUND)', true) },
  PayloadTooLarge: { status: 413, body: errorResponse(413, 'Body over the configured limit (PAYLOAD_TOO_LARGE)', true) },
  UnsupportedMediaType: {
    status: 415,
    body: errorResponse(415, 'Body not JSON (UNSUPPORTED_MEDIA_TYPE), or in a Content-Encoding other than gzip, deflate or br (UNSUPPORTED_CONTENT_ENCODING)', true),
  },
  RateLimited: { status: 429, body: { ...errorResponse(429, 'Rate limit exceeded (RATE_LIMIT_EXCEEDED); details.retry_after and Retry-After say when to retry', true), headers: rateLimitHeaders } },
  InternalError: { status: 500, body: errorResponse(500, 'Unexpected error (INTERNAL_ERROR); the body never carries a stack or SQL', true) },
};

const ref = (name: keyof typeof commonResponses) => ({ $ref: `#/components/responses/${name}` });

function successResponse(collector: SchemaCollector, { route }: MountedRoute, status: number): JsonSchema {
  const schema = route.responses[status];
  const example = route.examples?.responses?.[status];
  if (schema === null || schema === undefined) return { description: status === 204 ? 'Done; no body' : `HTTP ${status}; no body` };
  const mediaType = { schema: collector.convert(schema, 'output'), ...(example === undefined ? {} : { example }) };
  return { description: schema.description ?? `HTTP ${status}`, content: { [route.contentType ?? 'application/json']: mediaType } };
}

/**
 * Every answer of a route. 2xx/3xx come from `responses`; every 4xx/5xx is the Error envelope,
 * described by the route's `errors` (or a `responses` entry, which can only say "this status
 * happens": a route never declares an error body of its own, so none can go undocumented).
 */
export function responsesOf(collector: SchemaCollector, mounted: MountedRoute): JsonSchema {
  const { route } = mounted;
  const out: JsonSchema = {};
  for (const key of Object.keys(route.responses)) {
    const status = Number(key);
    if (status < 400) out[key] = successResponse(collector, mounted, status);
  }
  for (const [key, description] of Object.entries(route.errors ?? {})) out[key] = errorResponse(Number(key), description);
  for (const key of Object.keys(route.responses)) if (Number(key) >= 400) out[key] ??= errorResponse(Number(key), `HTTP ${key}: the error envelope`);
  const hasInput = route.request?.body !== undefined || route.request?.query !== undefined || route.request?.params !== undefined;
  if (hasInput) out['400'] ??= ref('ValidationFailed');
  if (route.auth !== 'none') out['401'] ??= ref('Unauthorized');
  if (route.auth === 'admin') out['403'] ??= ref('Forbidden');
  if (route.request?.params !== undefined) out['404'] ??= ref('NotFound');
  if (route.request?.body !== undefined && (route.bodyMode ?? 'json') === 'json') {
    out['413'] ??= ref('PayloadTooLarge');
    out['415'] ??= ref('UnsupportedMediaType');
  }
  if ((route.rateLimits ?? []).length > 0) out['429'] ??= ref('RateLimited');
  out['500'] ??= ref('InternalError');
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => Number(a) - Number(b)));
}
