import test from 'ava';
import { examplePlugin } from '../../fixtures/example-plugin/index.ts';
import { startTestApp, type TestApp } from '../../helpers/start-test-app.ts';

let app: TestApp;

test.before(async () => {
  app = await startTestApp({
    plugins: [examplePlugin],
    config: { server: { body_limit_bytes: 1024 }, metrics: { token: 'metrics-token-0123456789' }, rate_limits: { example_test: { limit: 3, window_s: 60 } } },
  });
});

test.after.always(async () => {
  await app?.close();
});

interface Envelope {
  error: string;
  message: string;
  code: string;
  details: Record<string, unknown>;
  timestamp: string;
  request_id: string;
}

async function envelopeOf(t: import('ava').ExecutionContext, res: Response, status: number, code: string): Promise<Envelope> {
  t.is(res.status, status);
  t.regex(res.headers.get('content-type') ?? '', /application\/json/);
  const body = (await res.json()) as Envelope;
  t.is(body.code, code);
  t.is(typeof body.error, 'string');
  t.is(typeof body.message, 'string');
  t.deepEqual(Object.keys(body).sort(), ['code', 'details', 'error', 'message', 'request_id', 'timestamp']);
  t.false(Number.isNaN(Date.parse(body.timestamp)));
  t.truthy(body.request_id);
  t.is(body.request_id, res.headers.get('x-request-id') ?? 'missing header');
  return body;
}

const postJson = (body: string, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/json', ...headers },
  body,
});

test('a plugin route answers under /api/<id>', async (t) => {
  const res = await app.request('/api/example/hello');
  t.is(res.status, 200);
  t.deepEqual(await res.json(), { hello: 'world' });
});

test('malformed JSON is a 400 INVALID_JSON envelope', async (t) => {
  await envelopeOf(t, await app.request('/api/example/notes', postJson('{"text": ')), 400, 'INVALID_JSON');
});

test('a body over the limit is a 413 PAYLOAD_TOO_LARGE envelope', async (t) => {
  const body = await envelopeOf(t, await app.request('/api/example/notes', postJson(JSON.stringify({ text: 'x'.repeat(5000) }))), 413, 'PAYLOAD_TOO_LARGE');
  t.is(body.details.limit_bytes, 1024);
});

test('an unknown route is a 404 NOT_FOUND envelope', async (t) => {
  await envelopeOf(t, await app.request('/api/nothing/here'), 404, 'NOT_FOUND');
});

test('a wrong method is a 405 with Allow', async (t) => {
  const res = await app.request('/api/example/hello', { method: 'DELETE' });
  await envelopeOf(t, res, 405, 'METHOD_NOT_ALLOWED');
  t.regex(res.headers.get('allow') ?? '', /GET/);
});

test('a body that is not JSON is a 415', async (t) => {
  const res = await app.request('/api/example/notes', { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'hi' });
  await envelopeOf(t, res, 415, 'UNSUPPORTED_MEDIA_TYPE');
});

test('validation failures list every issue with its path', async (t) => {
  const body = await envelopeOf(t, await app.request('/api/example/notes', postJson(JSON.stringify({ text: '', extra: 1 }))), 400, 'VALIDATION_FAILED');
  const issues = body.details.issues as Array<{ path: string; message: string }>;
  t.true(issues.some((i) => i.path === 'body.text'));
  t.true(issues.some((i) => i.path === 'body' && /extra/.test(i.message)));
});

test('bad path parameters are a validation failure, not a database error', async (t) => {
  const body = await envelopeOf(t, await app.request('/api/example/notes/not-a-uuid'), 400, 'VALIDATION_FAILED');
  t.deepEqual(
    (body.details.issues as Array<{ path: string }>).map((i) => i.path),
    ['params.id'],
  );
});

test('a domain NotFoundError thrown in a handler becomes a 404 envelope', async (t) => {
  const body = await envelopeOf(t, await app.request('/api/example/notes/0b7e7dd4-5d1f-4c1e-9a8a-3f6f1c1e2b3c'), 404, 'NOT_FOUND');
  t.regex(body.message, /note 0b7e7dd4/);
});

test('a stored note round-trips through the plugin table', async (t) => {
  const created = await app.request('/api/example/notes', postJson(JSON.stringify({ text: 'hi there' })));
  t.is(created.status, 201);
  const { note } = (await created.json()) as { note: { id: string; text: string } };
  const read = await app.request(`/api/example/notes/${note.id}`);
  t.is(read.status, 200);
  t.is(((await read.json()) as { note: { text: string } }).note.text, 'hi there');
});

test('an unexpected error is a 500 with no stack or SQL, and one logged line with the stack', async (t) => {
  const res = await app.request('/api/example/boom', { headers: { 'X-Request-Id': 'boom-request-1' } });
  const body = await envelopeOf(t, res, 500, 'INTERNAL_ERROR');
  t.is(body.request_id, 'boom-request-1');
  const text = JSON.stringify(body);
  t.notRegex(text, /no_such_table_for_boom|SELECT|at .*\.ts/);
  const errors = app.logs.filter((l) => l.request_id === 'boom-request-1' && l.level >= 50);
  t.is(errors.length, 1);
  const err = errors[0]?.err as { stack?: string } | undefined;
  t.regex(err?.stack ?? '', /no_such_table_for_boom/);
  // The process is still serving.
  t.is((await app.request('/healthz')).status, 200);
});

test('a response that breaks its own schema is caught in test mode', async (t) => {
  await envelopeOf(t, await app.request('/api/example/wrong-shape'), 500, 'INTERNAL_ERROR');
});

test('a protected route without a bearer token is a 401 AUTH_TOKEN_MISSING', async (t) => {
  await envelopeOf(t, await app.request('/api/example/private'), 401, 'AUTH_TOKEN_MISSING');
});

test('X-Request-Id is echoed when sent and generated when not', async (t) => {
  const given = await app.request('/healthz', { headers: { 'X-Request-Id': 'trace-abc.123' } });
  t.is(given.headers.get('x-request-id'), 'trace-abc.123');
  const made = await app.request('/healthz');
  t.regex(made.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  const hostile = await app.request('/healthz', { headers: { 'X-Request-Id': 'bad id with spaces' } });
  t.not(hostile.headers.get('x-request-id'), 'bad id with spaces');
});

test('each request is logged once with method, path, status, duration and id; secrets in the query are redacted', async (t) => {
  const res = await app.request('/api/example/hello?token=s3cret&ticket=t1ck&ide_token=ide1&keep=yes', { headers: { 'X-Request-Id': 'log-check-1' } });
  await res.arrayBuffer();
  const lines = app.logs.filter((l) => l.request_id === 'log-check-1' && l.msg === 'request');
  t.is(lines.length, 1);
  const line = lines[0] as Record<string, unknown>;
  t.is(line.method, 'GET');
  t.is(line.status, 200);
  t.is(typeof line.duration_ms, 'number');
  t.is(line.path, '/api/example/hello?token=[REDACTED]&ticket=[REDACTED]&ide_token=[REDACTED]&keep=yes');
  t.false(JSON.stringify(app.logs).includes('s3cret'));
});

test('healthz and readyz answer 200', async (t) => {
  t.is((await app.request('/healthz')).status, 200);
  const ready = await app.request('/readyz');
  t.is(ready.status, 200);
  t.deepEqual(await ready.json(), { status: 'ok' });
});

test('metrics: 401 with a wrong token, Prometheus text with the right one', async (t) => {
  await envelopeOf(t, await app.request('/metrics', { headers: { Authorization: 'Bearer wrong' } }), 401, 'AUTH_TOKEN_INVALID');
  await app.request('/api/example/hello');
  const res = await app.request('/metrics', { headers: { Authorization: 'Bearer metrics-token-0123456789' } });
  t.is(res.status, 200);
  const text = await res.text();
  t.regex(text, /panel_http_requests_total\{method="GET",route="\/api\/example\/hello",status="200"\} \d+/);
  t.regex(text, /panel_http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/api\/example\/hello",status="200"\}/);
  // Unmatched paths share one label instead of one series each.
  t.false(text.includes('/api/nothing/here'));
});

test('openapi.json describes the routes from their validating schemas', async (t) => {
  const res = await app.request('/openapi.json');
  t.is(res.status, 200);
  type Doc = {
    openapi: string;
    paths: Record<
      string,
      Record<
        string,
        {
          parameters: Array<{ name: string; in: string }>;
          requestBody?: { content: Record<string, { schema: { properties: Record<string, { maxLength?: number }> } }> };
          responses: Record<string, unknown>;
        }
      >
    >;
  };
  const doc = (await res.json()) as Doc;
  t.is(doc.openapi, '3.1.0');
  const read = doc.paths['/api/example/notes/{id}']?.get;
  t.deepEqual(
    read?.parameters.map((p) => [p.name, p.in]),
    [['id', 'path']],
  );
  t.truthy(read?.responses['404']);
  const create = doc.paths['/api/example/notes']?.post;
  t.is(create?.requestBody?.content['application/json']?.schema.properties.text?.maxLength, 200);
  t.truthy(create?.responses['413']);
  t.truthy(create?.responses['415'], 'a JSON body route documents the media-type and content-encoding refusals');
  t.truthy(doc.paths['/api/example/limited']?.get?.responses['429']);
  t.truthy(doc.paths['/healthz']?.get);
});

test('a NUL character anywhere in the input is a 400 naming the field, never a database error', async (t) => {
  const body = await envelopeOf(t, await app.request('/api/example/notes', postJson('{"text":"a\\u0000b"}')), 400, 'VALIDATION_FAILED');
  t.deepEqual(
    (body.details.issues as Array<{ path: string; message: string }>).map((i) => i.path),
    ['body.text'],
  );
  t.regex((body.details.issues as Array<{ message: string }>)[0]?.message ?? '', /NUL/);
  const inPath = await envelopeOf(t, await app.request('/api/example/notes/0b7e7dd4-5d1f-4c1e-9a8a-3f6f1c1e2b3c%00'), 400, 'VALIDATION_FAILED');
  t.true((inPath.details.issues as Array<{ path: string }>).some((i) => i.path === 'params.id'));
});

test('a body whose Content-Encoding lies is a 400, an encoding we cannot undo a 415, and real gzip works', async (t) => {
  const { gzipSync } = await import('node:zlib');
  const note = Buffer.from(JSON.stringify({ text: 'zipped' }));
  const send = (encoding: string, bytes: Buffer) => app.request('/api/example/notes', { method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Encoding': encoding }, body: bytes });
  await envelopeOf(t, await send('gzip', note), 400, 'INVALID_CONTENT_ENCODING');
  await envelopeOf(t, await send('deflate', Buffer.from([0x78, 0x9c, 1, 2, 3])), 400, 'INVALID_CONTENT_ENCODING');
  const unknown = await envelopeOf(t, await send('x-fuzz', note), 415, 'UNSUPPORTED_CONTENT_ENCODING');
  t.deepEqual(unknown.details.supported, ['identity', 'gzip', 'deflate', 'br']);
  await envelopeOf(t, await send('gzip, x-fuzz', gzipSync(note)), 415, 'UNSUPPORTED_CONTENT_ENCODING');
  t.is((await send('GZIP', gzipSync(note))).status, 201, 'encoding names are case-insensitive');
});
