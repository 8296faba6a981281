import type { MountedWebSocketRoute, WebSocketDocs } from '../ws/websocket-route.ts';
import { errorResponse } from './openapi-responses.ts';
import type { JsonSchema } from './openapi-schemas.ts';

const closeCodeText = (codes: Record<number, string>) =>
  Object.entries(codes)
    .map(([code, meaning]) => `${code} ${meaning}`)
    .join('; ');

/** The `101` answer and the `x-websocket` facts of a documented WebSocket endpoint. */
export function upgradeResponse(docs: WebSocketDocs): { response: JsonSchema; extension: JsonSchema } {
  const headers: JsonSchema = {
    Upgrade: { description: 'Always `websocket`', schema: { type: 'string', const: 'websocket' } },
    Connection: { description: 'Always `Upgrade`', schema: { type: 'string', const: 'Upgrade' } },
    'Sec-WebSocket-Accept': { description: 'RFC 6455 handshake answer', schema: { type: 'string' } },
  };
  if (docs.subprotocols.length > 0) headers['Sec-WebSocket-Protocol'] = { description: 'The selected subprotocol', schema: { type: 'string', enum: docs.subprotocols } };
  return {
    response: { description: `Switching Protocols: the WebSocket is open. Close codes: ${closeCodeText(docs.closeCodes)}.`, headers },
    extension: {
      subprotocols: docs.subprotocols,
      closeCodes: Object.fromEntries(Object.entries(docs.closeCodes)),
      auth: docs.security.name,
      ...(docs.examples?.frames ? { frames: docs.examples.frames } : {}),
    },
  };
}

function parametersOf(fullPath: string, docs: WebSocketDocs): JsonSchema[] {
  const example = (name: string) => (docs.examples?.params?.[name] === undefined ? {} : { example: docs.examples.params[name] });
  const path = [...fullPath.matchAll(/:([A-Za-z0-9_]+)/g)].map(([, name]) => ({ name: name as string, in: 'path', required: true, schema: { type: 'string' }, ...example(name as string) }));
  const query = (docs.query ?? []).map((q) => ({ name: q.name, in: 'query', required: q.required, description: q.description, schema: { type: 'string' }, ...example(q.name) }));
  const headers = [
    { name: 'Upgrade', in: 'header', required: true, description: 'Must be `websocket`', schema: { type: 'string', const: 'websocket' } },
    ...(docs.subprotocols.length > 0
      ? [{ name: 'Sec-WebSocket-Protocol', in: 'header', required: false, description: `Offer ${docs.subprotocols.map((p) => `\`${p}\``).join(' or ')} (or none)`, schema: { type: 'string' } }]
      : []),
  ];
  return [...path, ...query, ...headers];
}

/** A WebSocket endpoint as a GET operation (OpenAPI 3.1 has no WebSocket object). */
export function websocketOperation(mounted: MountedWebSocketRoute, docs: WebSocketDocs): JsonSchema {
  const { response, extension } = upgradeResponse(docs);
  const responses: JsonSchema = { '101': response };
  for (const [status, description] of Object.entries(docs.errors)) responses[status] = errorResponse(Number(status), description);
  responses['500'] ??= { $ref: '#/components/responses/InternalError' };
  return {
    operationId: docs.operationId,
    summary: docs.summary,
    description: `${docs.description}\n\nA WebSocket upgrade (RFC 6455): send \`Connection: Upgrade\` and \`Upgrade: websocket\`; refusals come as the error envelope before any upgrade.`,
    tags: docs.tags ?? [mounted.owner],
    parameters: parametersOf(mounted.fullPath ?? '', docs),
    security: [{ [docs.security.name]: [] }],
    responses,
    'x-websocket': extension,
  };
}

/** Documented WebSocket routes with their OpenAPI path (`{param}` form). */
export function documentedSockets(sockets: readonly MountedWebSocketRoute[]): Array<{ mounted: MountedWebSocketRoute; docs: WebSocketDocs; path: string }> {
  return sockets.flatMap((mounted) => (mounted.route.docs && mounted.fullPath ? [{ mounted, docs: mounted.route.docs, path: mounted.fullPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}') }] : []));
}
