import test, { type ExecutionContext } from 'ava';
import { examplePlugin } from '../../fixtures/example-plugin/index.ts';
import { startTestApp, type TestApp } from '../../helpers/start-test-app.ts';
import { rawExchange, stillServes, type RawExchange } from '../../helpers/raw-http.ts';

// What Node's HTTP parser refuses before Koa sees a request: each must get the error envelope
// with an X-Request-Id and a closed connection, and leave the server serving.

let app: TestApp;
let port: number;

test.before(async () => {
  app = await startTestApp({ plugins: [examplePlugin] });
  port = Number(new URL(app.url).port);
});

test.after.always(async () => {
  await app?.close();
});

function assertRefused(t: ExecutionContext, exchange: RawExchange, status: number, code: string): void {
  t.true(exchange.closed, 'the server closed the connection');
  t.is(exchange.responses.length, 1, 'one answer, nothing served behind it');
  const [res] = exchange.responses;
  if (!res) return;
  t.is(res.status, status);
  t.is(res.headers.connection, 'close');
  t.regex(res.headers['content-type'] ?? '', /application\/json/);
  const body = JSON.parse(res.body) as Record<string, unknown>;
  t.deepEqual(Object.keys(body).sort(), ['code', 'details', 'error', 'message', 'request_id', 'timestamp']);
  t.is(body.code, code);
  t.truthy(res.headers['x-request-id']);
  t.is(body.request_id, res.headers['x-request-id']);
}

const get = (target: string, headers: string): string => `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}\r\n`;

test('10,000 headers in one request: 431 envelope, connection closed, server fine', async (t) => {
  const headers = Array.from({ length: 10_000 }, (_, i) => `X-Filler-${i}: v\r\n`).join('');
  const exchange = await rawExchange(port, get('/api/example/hello', headers));
  assertRefused(t, exchange, 431, 'REQUEST_HEADER_FIELDS_TOO_LARGE');
  t.false(exchange.reset, 'the client read the answer before the close, not a reset');
  t.is(await stillServes(app.url), 200);
});

test('a 1 MB header: 431 envelope, connection closed, server fine', async (t) => {
  const exchange = await rawExchange(port, get('/api/example/hello', `X-Big: ${'a'.repeat(1024 * 1024)}\r\n`));
  assertRefused(t, exchange, 431, 'REQUEST_HEADER_FIELDS_TOO_LARGE');
  t.false(exchange.reset);
  t.is(await stillServes(app.url), 200);
});

test('a 100 KiB query string: 431 envelope', async (t) => {
  assertRefused(t, await rawExchange(port, get(`/api/example/hello?q=${'a'.repeat(100 * 1024)}`, '')), 431, 'REQUEST_HEADER_FIELDS_TOO_LARGE');
});

test("the client's well-formed X-Request-Id names the refusal", async (t) => {
  const exchange = await rawExchange(port, get('/api/example/hello', `X-Request-Id: probe-42\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n`));
  assertRefused(t, exchange, 431, 'REQUEST_HEADER_FIELDS_TOO_LARGE');
  t.is(exchange.responses[0]?.headers['x-request-id'], 'probe-42');
});

// Each probe carries a second request that a server disagreeing with a proxy about the length would serve.
const smuggled = 'GET /api/example/hello?smuggled=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
const probes: Record<string, { head: string; code: string }> = {
  'Content-Length with Transfer-Encoding (CL.TE)': { head: 'Content-Length: 4\r\nTransfer-Encoding: chunked\r\n', code: 'INVALID_MESSAGE_FRAMING' },
  'Transfer-Encoding with Content-Length (TE.CL)': { head: 'Transfer-Encoding: chunked\r\nContent-Length: 60\r\n', code: 'INVALID_MESSAGE_FRAMING' },
  'two Content-Length headers that differ': { head: 'Content-Length: 5\r\nContent-Length: 60\r\n', code: 'INVALID_MESSAGE_FRAMING' },
  'an obfuscated coding (xchunked)': { head: 'Transfer-Encoding: xchunked\r\n', code: 'INVALID_MESSAGE_FRAMING' },
  'chunked not last (chunked, identity)': { head: 'Transfer-Encoding: chunked, identity\r\n', code: 'INVALID_MESSAGE_FRAMING' },
  'a second Transfer-Encoding header': { head: 'Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n', code: 'INVALID_MESSAGE_FRAMING' },
  'a space before the colon': { head: 'Transfer-Encoding : chunked\r\n', code: 'BAD_REQUEST' },
  'a folded Transfer-Encoding line': { head: 'Transfer-Encoding:\r\n chunked\r\n', code: 'BAD_REQUEST' },
  'a Content-Length that is not a number': { head: 'Content-Length: 4x\r\n', code: 'INVALID_MESSAGE_FRAMING' },
};

for (const [name, probe] of Object.entries(probes)) {
  test(`smuggling probe, ${name}: 400 envelope, no second request served`, async (t) => {
    const before = app.logs.filter((l) => l.msg === 'request' && String(l.path).includes('smuggled')).length;
    const request = `POST /api/example/notes HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${probe.head}\r\n0\r\n\r\n${smuggled}`;
    assertRefused(t, await rawExchange(port, request), 400, probe.code);
    const after = app.logs.filter((l) => l.msg === 'request' && String(l.path).includes('smuggled')).length;
    t.is(after, before, 'the request behind the probe never reached the app');
  });
}

test('a request line that is not HTTP: 400 BAD_REQUEST envelope', async (t) => {
  assertRefused(t, await rawExchange(port, 'GARBAGE\r\n\r\n'), 400, 'BAD_REQUEST');
});

test('an unknown Expect: 417 envelope and the connection closed', async (t) => {
  const exchange = await rawExchange(port, 'POST /api/example/notes HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 200-ok\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}');
  assertRefused(t, exchange, 417, 'EXPECTATION_FAILED');
  t.is(await stillServes(app.url), 200);
});

test('the refusals are logged with structured fields and without what the client sent', async (t) => {
  const secret = 'Bearer sekrit-token-never-logged';
  await rawExchange(port, get('/api/example/hello', `Authorization: ${secret}\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n`));
  const line = app.logs.findLast((l) => l.msg === 'refused below the app' && l.code === 'REQUEST_HEADER_FIELDS_TOO_LARGE');
  t.truthy(line);
  t.is(line?.status, 431);
  t.is(line?.parser_error, 'HPE_HEADER_OVERFLOW');
  t.false(JSON.stringify(app.logs).includes('sekrit-token'));
});
