import { z } from 'zod';
import type { MountedWebSocketRoute } from '../ws/websocket-route.ts';
import { errorEnvelopeSchema } from './error-envelope.ts';
import { commonResponses, responsesOf } from './openapi-responses.ts';
import { SchemaCollector, type JsonSchema } from './openapi-schemas.ts';
import { documentedSockets, upgradeResponse, websocketOperation } from './openapi-websockets.ts';
import type { MountedRoute } from './route.ts';

function parametersOf(collector: SchemaCollector, location: 'path' | 'query', schema: z.ZodType | undefined, examples: Record<string, unknown> = {}): JsonSchema[] {
  if (!(schema instanceof z.ZodObject)) return [];
  const shape = schema.shape as Record<string, z.ZodType>;
  return Object.entries(shape).map(([name, field]) => {
    const description = field.description;
    return {
      name,
      in: location,
      required: location === 'path' || !field.safeParse(undefined).success,
      schema: collector.convert(field, 'input'),
      ...(description ? { description } : {}),
      ...(examples[name] === undefined ? {} : { example: examples[name] }),
    };
  });
}

/** `get /api/admin/users/:id` → `getApiAdminUsersId`: stable while the path is, unique with the method. */
export function defaultOperationId(method: string, fullPath: string): string {
  return `${method}${fullPath.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`;
}

const bearerAuth = { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The access token from POST /api/auth/login (or /api/auth/refresh)' };
const ticketAuth = { type: 'apiKey', in: 'query', name: 'ticket', description: 'A single-use ticket (POST .../ticket), for clients that cannot send headers (EventSource, browser WebSockets)' };

/** The media type of an SSE stream: OpenAPI 3.1 has no item schema, so the event's schema is `x-itemSchema` and the frames are described. */
function streamContent(item: JsonSchema, example: unknown): JsonSchema {
  return {
    schema: { type: 'string', description: 'Server-Sent Events: `id: <n>`, `event: <type>`, `data: <the event as JSON, see x-itemSchema>`, a blank line; `:` comment lines are heartbeats' },
    'x-itemSchema': item,
    ...(example === undefined ? {} : { example }),
  };
}

export interface OpenApiInfo {
  title: string;
  version: string;
  description: string;
  serverUrl: string;
  tags?: Array<{ name: string; description: string }>;
  /** The event catalogue, listed as `x-events` (OpenAPI has no place for SSE event types). */
  events?: Array<{ id: string; owner: string; audience: string; description: string }>;
  /** WebSocket endpoints; those with `docs` are described as GET operations answering 101. */
  websockets?: readonly MountedWebSocketRoute[];
}

function operationOf(collector: SchemaCollector, mounted: MountedRoute, schemes: Record<string, JsonSchema>): JsonSchema {
  const { route, fullPath } = mounted;
  let security: JsonSchema[] = route.auth === 'none' ? [] : [{ bearerAuth: [] }];
  if (route.securityScheme) {
    schemes[route.securityScheme.name] = route.securityScheme.scheme;
    security = [{ [route.securityScheme.name]: [] }];
  }
  if (route.ticketPurpose) {
    schemes.ticket = ticketAuth;
    security = [...security, { ticket: [] }];
  }
  const responses = responsesOf(collector, mounted);
  if (route.contentType === 'text/event-stream') {
    const ok = responses['200'] as { description: string; content?: Record<string, { schema: JsonSchema }> };
    const item = ok.content?.['text/event-stream']?.schema;
    if (item) ok.content = { 'text/event-stream': streamContent(item, route.examples?.responses?.[200]) as { schema: JsonSchema } };
  }
  const operation: JsonSchema = {
    operationId: route.operationId ?? defaultOperationId(route.method, fullPath),
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: route.tags ?? [mounted.owner],
    parameters: [...parametersOf(collector, 'path', route.request?.params, route.examples?.params), ...parametersOf(collector, 'query', route.request?.query, route.examples?.params)],
    security,
    responses,
  };
  if (route.request?.body) {
    const example = route.examples?.body;
    operation.requestBody = { required: true, content: { 'application/json': { schema: collector.convert(route.request.body, 'input'), ...(example === undefined ? {} : { example }) } } };
  } else if (route.bodyMode === 'raw') {
    operation.requestBody = { required: true, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } };
  }
  return operation;
}

/** The OpenAPI 3.1 document, generated from the same schemas that validate requests. */
export function buildOpenApiDocument(routes: readonly MountedRoute[], info: OpenApiInfo): JsonSchema {
  const collector = new SchemaCollector();
  const schemes: Record<string, JsonSchema> = { bearerAuth };
  const paths: Record<string, Record<string, JsonSchema>> = {};
  const operationIds = new Set<string>();
  const add = (path: string, method: string, operation: JsonSchema) => {
    const id = operation.operationId as string;
    if (operationIds.has(id)) throw new Error(`OpenAPI: operationId ${id} is used twice; set a route's operationId`);
    operationIds.add(id);
    paths[path] = { ...paths[path], [method]: operation };
  };
  for (const mounted of routes) add(mounted.fullPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}'), mounted.route.method, operationOf(collector, mounted, schemes));
  for (const { mounted, docs, path } of documentedSockets(info.websockets ?? [])) {
    schemes[docs.security.name] = docs.security.scheme;
    const page = paths[path]?.get;
    if (page) {
      // The same path serves a page without Upgrade: one GET, answering 200 or 101.
      const { response, extension } = upgradeResponse(docs);
      page.responses = { '101': response, ...(page.responses as JsonSchema) };
      page.description = `${(page.description as string | undefined) ?? ''}\n\nWith \`Upgrade: websocket\`: ${docs.summary}. ${docs.description}`.trim();
      page['x-websocket'] = extension;
      // `{}`: the page itself takes no credential; the upgrade takes this one.
      page.security = [{}, { [docs.security.name]: [] }];
      continue;
    }
    add(path, 'get', websocketOperation(mounted, docs));
  }
  const document = {
    openapi: '3.1.0',
    info: { title: info.title, version: info.version, description: info.description, license: { name: 'MIT', identifier: 'MIT' } },
    servers: [{ url: info.serverUrl }],
    ...(info.tags && info.tags.length > 0 ? { tags: info.tags } : {}),
    security: [{ bearerAuth: [] }],
    ...(info.events ? { 'x-events': info.events } : {}),
    paths,
  };
  const { document: resolved, schemas } = collector.finish(document, { Error: collector.convert(errorEnvelopeSchema, 'output') });
  const responses = Object.fromEntries(Object.entries(commonResponses).map(([name, { body }]) => [name, body]));
  return { ...resolved, components: { securitySchemes: schemes, schemas, responses } };
}
