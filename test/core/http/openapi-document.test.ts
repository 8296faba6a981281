import test from 'ava';
import { openApiProblems, operationsOf, shippedOpenApiDocument, type OpenApiDocument } from '../../helpers/openapi-document.ts';

let document: OpenApiDocument;
let size: number;

test.before(async () => {
  const shipped = await shippedOpenApiDocument();
  document = shipped.document;
  size = Buffer.byteLength(shipped.text);
});

test('every operation has an operationId, a summary, explicit security, a success answer, an example, and the Error envelope on every 4xx/5xx', (t) => {
  t.deepEqual(openApiProblems(document), []);
});

test('/metrics declares what it answers: 200 Prometheus text, 401 wrong token, 404 metrics off', (t) => {
  const metrics = document.paths['/metrics']?.get;
  t.deepEqual(Object.keys(metrics?.responses ?? {}).sort(), ['200', '401', '404', '500']);
  t.regex(Object.keys(metrics?.responses['200']?.content ?? {})[0] ?? '', /^text\/plain/);
  t.deepEqual(metrics?.security, [{ metricsToken: [] }]);
});

test('the event stream is text/event-stream with the event schema; WebSockets are GETs answering 101 with their close codes', (t) => {
  const events = document.paths['/api/events']?.get;
  const stream = events?.responses['200']?.content?.['text/event-stream'] as { 'x-itemSchema'?: { properties?: Record<string, unknown> } } | undefined;
  t.truthy(stream?.['x-itemSchema']?.properties?.type);
  t.deepEqual(events?.security, [{ bearerAuth: [] }, { ticket: [] }]);
  for (const path of ['/api/game/servers/{id}/console', '/agent/ws', '/vnc-viewer/{session_id}']) {
    const op = document.paths[path]?.get as { responses: Record<string, { description?: string }>; 'x-websocket'?: { closeCodes: Record<string, string> } } | undefined;
    t.truthy(op?.responses['101'], path);
    t.true(Object.keys(op?.['x-websocket']?.closeCodes ?? {}).length > 2, path);
  }
});

test('shared schemas are components, and the document is smaller for it', (t) => {
  for (const name of ['Error', 'User', 'Pagination', 'InstanceState', 'GameServer', 'DevContainer', 'StreamspaceSession']) t.truthy(document.components.schemas[name], name);
  const userRefs = JSON.stringify(document.paths).split('"#/components/schemas/User"').length - 1;
  t.true(userRefs >= 5, `User is referenced ${userRefs} times`);
  // It was 343 KB with everything inline; the bound leaves room for new routes.
  t.true(size < 260_000, `${size} bytes`);
  t.true(operationsOf(document).length > 100);
});
