import test from 'ava';
import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import { definePlugin, defineWebSocket } from '../../../src/plugin-api/index.ts';
import { examplePlugin } from '../../fixtures/example-plugin/index.ts';

/** Routes by Host like the hosted IDE does: every path on dev-<vmid>.localhost is its own. */
const hostRouted = definePlugin({
  id: 'hosted',
  setup: () => ({
    websockets: [
      defineWebSocket({
        host: (hostname) =>
          /^dev-(\d+)\.localhost$/
            .exec(hostname)
            ?.slice(1)
            .reduce((acc, vmid) => ({ ...acc, vmid }), {}) ?? null,
        origin: 'any',
        authorize: async ({ params, url }) => ({ vmid: params.vmid ?? '', path: url.pathname }),
        onConnection: (ws, _ctx, grant) => ws.send(JSON.stringify(grant)),
      }),
    ],
  }),
});
import { startTestApp, type TestApp } from '../../helpers/start-test-app.ts';

let app: TestApp;

test.before(async () => {
  app = await startTestApp({ plugins: [examplePlugin, hostRouted], config: { server: { allowed_origins: ['https://portal.example.com'] } } });
});

test.after.always(async () => {
  await app?.close();
});

const wsUrl = (a: TestApp, path: string): string => `${a.url.replace('http', 'ws')}${path}`;

/** Opens a socket and resolves with the first message, or with the HTTP refusal. */
function connect(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ ws: WebSocket; first: string } | { status: number; body: { code: string; request_id: string }; requestId: string | undefined }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('message', (data) => resolve({ ws, first: data.toString() }));
    ws.once('unexpected-response', (_req, res: IncomingMessage) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as { code: string; request_id: string }, requestId: res.headers['x-request-id'] as string | undefined }));
    });
    ws.once('error', reject);
  });
}

test('an unknown WebSocket path is a 404 envelope before any upgrade', async (t) => {
  const result = await connect(wsUrl(app, '/api/example/nope'));
  if (!('status' in result)) return t.fail('upgraded');
  t.is(result.status, 404);
  t.is(result.body.code, 'NOT_FOUND');
  t.is(result.body.request_id, result.requestId ?? '');
});

test('upgrades are routed by Host first (port ignored), then by path', async (t) => {
  const port = new URL(app.url).port;
  const hosted = await connect(wsUrl(app, '/api/example/echo?ticket=bad'), { Host: `dev-42.localhost:${port}` });
  if (!('ws' in hosted)) return t.fail(`refused with ${hosted.status}`);
  t.deepEqual(JSON.parse(hosted.first), { vmid: '42', path: '/api/example/echo' });
  hosted.ws.close();
  const other = await connect(wsUrl(app, '/api/example/echo?ticket=bad'), { Host: `dev-x.localhost:${port}` });
  if (!('status' in other)) return t.fail('upgraded');
  t.is(other.status, 401, 'a Host that does not match falls through to path routing');
});

test('a foreign Origin is refused with 403 before authorisation', async (t) => {
  const result = await connect(wsUrl(app, '/api/example/echo?ticket=good'), { Origin: 'https://evil.example.net' });
  if (!('status' in result)) return t.fail('upgraded');
  t.is(result.status, 403);
  t.is(result.body.code, 'ORIGIN_NOT_ALLOWED');
});

test('a refused authorisation answers its own status and code', async (t) => {
  const result = await connect(wsUrl(app, '/api/example/echo?ticket=bad'), { Origin: 'http://localhost:8080' });
  if (!('status' in result)) return t.fail('upgraded');
  t.is(result.status, 401);
  t.is(result.body.code, 'TICKET_INVALID');
});

test('allowed origins (PUBLIC_URL and ALLOWED_ORIGINS) and non-browser clients connect; frames flow both ways', async (t) => {
  const variants: Array<Record<string, string>> = [{ Origin: 'http://localhost:8080' }, { Origin: 'https://portal.example.com' }, {}];
  for (const headers of variants) {
    const result = await connect(wsUrl(app, '/api/example/echo?ticket=good'), headers);
    if (!('ws' in result)) return t.fail(`refused with ${result.status}`);
    t.deepEqual(JSON.parse(result.first), { type: 'hello', greeting: 'hello' });
    const echoed = new Promise<string>((resolve) => result.ws.once('message', (d) => resolve(d.toString())));
    result.ws.send('ping');
    t.is(await echoed, 'ping');
    result.ws.close();
  }
});

test('an inbound message over the size limit closes the socket with 1009', async (t) => {
  const result = await connect(wsUrl(app, '/api/example/echo?ticket=good'));
  if (!('ws' in result)) return t.fail('refused');
  const closed = new Promise<number>((resolve) => result.ws.once('close', (code) => resolve(code)));
  result.ws.send('x'.repeat(70 * 1024));
  t.is(await closed, 1009);
});

test('upgrades are logged once, with the ticket redacted', async (t) => {
  const result = await connect(wsUrl(app, '/api/example/echo?ticket=good'), { 'X-Request-Id': 'ws-log-1' });
  if (!('ws' in result)) return t.fail('refused');
  result.ws.close();
  const lines = app.logs.filter((l) => l.request_id === 'ws-log-1' && l.msg === 'upgrade');
  t.is(lines.length, 1);
  t.is(lines[0]?.path, '/api/example/echo?ticket=[REDACTED]');
  t.is(lines[0]?.status, 101);
});

test('shutdown closes open sockets with 1001 and refuses new upgrades', async (t) => {
  const own = await startTestApp({ plugins: [examplePlugin] });
  const result = await connect(wsUrl(own, '/api/example/echo?ticket=good'));
  if (!('ws' in result)) return t.fail('refused');
  const closed = new Promise<number>((resolve) => result.ws.once('close', (code) => resolve(code)));
  await own.close();
  t.is(await closed, 1001);
});
