import { z } from 'zod';
import { errorEnvelopeSchema } from './error-envelope.ts';
import type { MountedRoute } from './route.ts';

type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const out = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
  delete out.$schema;
  return out;
}

function parametersOf(location: 'path' | 'query', schema: z.ZodType | undefined): JsonSchema[] {
  if (!(schema instanceof z.ZodObject)) return [];
  const shape = schema.shape as Record<string, z.ZodType>;
  return Object.entries(shape).map(([name, field]) => {
    const fieldSchema = jsonSchema(field, 'input');
    const description = field.description;
    return {
      name,
      in: location,
      required: location === 'path' || !field.safeParse(undefined).success,
      schema: fieldSchema,
      ...(description ? { description } : {}),
    };
  });
}

const errorRef = { $ref: '#/components/schemas/Error' };

function errorResponse(description: string): JsonSchema {
  return { description, content: { 'application/json': { schema: errorRef } } };
}

function responsesOf({ route }: MountedRoute): JsonSchema {
  const out: JsonSchema = {};
  for (const [status, schema] of Object.entries(route.responses)) {
    const example = route.examples?.responses?.[Number(status)];
    out[status] = schema === null
      ? { description: `HTTP ${status}` }
      : { description: schema.description ?? `HTTP ${status}`, content: { [route.contentType ?? 'application/json']: { schema: jsonSchema(schema, 'output'), ...(example === undefined ? {} : { example }) } } };
  }
  for (const [status, description] of Object.entries(route.errors ?? {})) out[status] ??= errorResponse(description);
  const hasInput = route.request?.body !== undefined || route.request?.query !== undefined || route.request?.params !== undefined;
  if (hasInput) out['400'] ??= errorResponse('Validation failed (VALIDATION_FAILED; a NUL character in any string is refused so), malformed JSON (INVALID_JSON), or a body that is not the Content-Encoding it claims (INVALID_CONTENT_ENCODING)');
  if (route.auth !== 'none') out['401'] ??= errorResponse('Missing, invalid or expired access token');
  if (route.auth === 'admin') out['403'] ??= errorResponse('Admins only (AUTH_INSUFFICIENT_PERMISSIONS)');
  if (route.request?.params !== undefined) out['404'] ??= errorResponse('No such resource, or it belongs to another user (NOT_FOUND)');
  if (route.request?.body !== undefined && (route.bodyMode ?? 'json') === 'json') {
    out['413'] ??= errorResponse('Body over the configured limit (PAYLOAD_TOO_LARGE)');
    out['415'] ??= errorResponse('Body not JSON (UNSUPPORTED_MEDIA_TYPE), or in a Content-Encoding other than gzip, deflate or br (UNSUPPORTED_CONTENT_ENCODING)');
  }
  if ((route.rateLimits ?? []).length > 0) {
    out['429'] ??= {
      ...errorResponse('Rate limit exceeded (RATE_LIMIT_EXCEEDED); details.retry_after and Retry-After say when to retry'),
      headers: {
        'X-RateLimit-Limit': { schema: { type: 'integer' }, description: 'Requests allowed in the window' },
        'X-RateLimit-Remaining': { schema: { type: 'integer' }, description: 'Requests left in the window' },
        'X-RateLimit-Reset': { schema: { type: 'integer' }, description: 'When the window ends, in Unix epoch seconds' },
      },
    };
  }
  out['500'] ??= errorResponse('Unexpected error (INTERNAL_ERROR); the body never carries a stack or SQL');
  return out;
}

export interface OpenApiInfo {
  title: string;
  version: string;
  description: string;
  serverUrl: string;
  tags?: Array<{ name: string; description: string }>;
  /** The event catalogue, listed as `x-events` (OpenAPI has no place for SSE event types). */
  events?: Array<{ id: string; owner: string; audience: string; description: string }>;
}

/** The OpenAPI 3.1 document, generated from the same schemas that validate requests. */
export function buildOpenApiDocument(routes: readonly MountedRoute[], info: OpenApiInfo): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const mounted of routes) {
    const { route, fullPath } = mounted;
    const path = fullPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const operation: JsonSchema = {
      operationId: `${route.method}${fullPath.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      summary: route.summary,
      tags: route.tags ?? [mounted.owner],
      parameters: [...parametersOf('path', route.request?.params), ...parametersOf('query', route.request?.query)],
      responses: responsesOf(mounted),
      ...(route.description ? { description: route.description } : {}),
      ...(route.auth === 'none' ? { security: [] } : {}),
    };
    if (route.request?.body) {
      const example = route.examples?.body;
      operation.requestBody = { required: true, content: { 'application/json': { schema: jsonSchema(route.request.body, 'input'), ...(example === undefined ? {} : { example }) } } };
    } else if (route.bodyMode === 'raw') {
      operation.requestBody = { required: true, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } };
    }
    paths[path] = { ...paths[path], [route.method]: operation };
  }
  return {
    openapi: '3.1.0',
    info: { title: info.title, version: info.version, description: info.description },
    servers: [{ url: info.serverUrl }],
    ...(info.tags && info.tags.length > 0 ? { tags: info.tags } : {}),
    security: [{ bearerAuth: [] }],
    ...(info.events ? { 'x-events': info.events } : {}),
    paths,
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas: { Error: jsonSchema(errorEnvelopeSchema, 'output') },
    },
  };
}
