import test from 'ava';
import { WebSocket, WebSocketServer } from 'ws';
import { pipeWebSockets } from '../../../src/core/ws/socket-pipe.ts';
import { ReplicaUnreachableError } from '../../../src/core/cluster/replica-relay.ts';
import { signRelayToken } from '../../../src/core/cluster/relay-token.ts';
import { startTestApp, type TestApp } from '../../helpers/start-test-app.ts';

let app: TestApp;
const seen: Array<Record<string, unknown>> = [];
const closes = new Map<unknown, number>();

test.before(async () => {
  app = await startTestApp();
  // A channel that echoes, as a plugin's handler would serve one.
  app.server.relay.handle('test.echo', (ws, data) => {
    seen.push(data);
    ws.on('message', (message: Buffer, isBinary: boolean) => ws.send(message, { binary: isBinary }));
    ws.on('close', (code) => closes.set(data.stream, code));
    ws.resume();
  });
});
test.after.always(async () => {
  await app.close();
});

const relayUrl = (channel: string): string => `${app.url.replace(/^http/, 'ws')}/internal/relay/${channel}`;
const secret = (): string => app.server.secrets.clusterSecret;
const self = (): string => app.server.replicas.replicaId;

/** The HTTP status and envelope code of a refused upgrade, or 'open'. */
function attempt(url: string, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => {
      ws.close();
      resolve('open');
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(`${res.statusCode} ${(JSON.parse(body) as { code: string }).code}`));
    });
    ws.on('error', () => undefined);
  });
}

test('a relay opened with a signed token reaches the channel with exactly the data it was bound to, text and binary intact', async (t) => {
  const relay = await app.server.relay.open(self(), 'test.echo', { stream: 'abc', n: 1 });
  relay.resume();
  const replies: Array<{ data: Buffer; binary: boolean }> = [];
  const two = new Promise<void>((done) =>
    relay.on('message', (data: Buffer, binary: boolean) => {
      replies.push({ data, binary });
      if (replies.length === 2) done();
    }),
  );
  relay.send('text');
  relay.send(Buffer.from([0, 255, 1]), { binary: true });
  await two;
  t.deepEqual(
    replies.map((r) => [r.data.toString('hex'), r.binary]),
    [
      [Buffer.from('text').toString('hex'), false],
      ['00ff01', true],
    ],
  );
  // The file's tests run at once and other relays land in `seen` too: find this one's binding.
  t.deepEqual(
    seen.find((binding) => binding.stream === 'abc'),
    { stream: 'abc', n: 1 },
  );
  relay.close();
});

test('the relay endpoint refuses a missing, forged, expired, replayed or misdirected token, an unknown channel, and any browser', async (t) => {
  const header = 'x-panel-relay-token';
  const good = (channel = 'test.echo', to = self(), nowMs = Date.now()): string => signRelayToken(secret(), { channel, to, from: 'tester', data: {} }, nowMs);
  t.is(await attempt(relayUrl('test.echo'), {}), '401 RELAY_TOKEN_MISSING');
  t.is(await attempt(relayUrl('test.echo'), { [header]: signRelayToken('another-cluster-secret-0123456789', { channel: 'test.echo', to: self(), from: 'x', data: {} }) }), '401 RELAY_TOKEN_INVALID');
  t.is(await attempt(relayUrl('test.echo'), { [header]: `${good().split('.')[0]}x.${good().split('.')[1]}` }), '401 RELAY_TOKEN_INVALID');
  t.is(await attempt(relayUrl('test.echo'), { [header]: good('test.echo', self(), Date.now() - 60_000) }), '401 RELAY_TOKEN_INVALID');
  t.is(await attempt(relayUrl('test.echo'), { [header]: good('test.echo', 'another-replica') }), '401 RELAY_TOKEN_INVALID');
  t.is(await attempt(relayUrl('test.echo'), { [header]: good('test.other') }), '401 RELAY_TOKEN_INVALID', 'a token for one channel opens no other');
  t.is(await attempt(relayUrl('test.none'), { [header]: good('test.none') }), '404 RELAY_CHANNEL_NOT_FOUND');
  const once = good();
  t.is(await attempt(relayUrl('test.echo'), { [header]: once }), 'open');
  t.is(await attempt(relayUrl('test.echo'), { [header]: once }), '401 RELAY_TOKEN_INVALID', 'a token opens one relay');
  t.is(await attempt(relayUrl('test.echo'), { [header]: good(), Origin: app.url }), '403 ORIGIN_NOT_ALLOWED', "not even the panel's own pages");
});

test('a relay to a replica that is not live fails with ReplicaUnreachableError, so the caller can answer 503', async (t) => {
  await t.throwsAsync(() => app.server.relay.open('no-such-replica', 'test.echo', {}), { instanceOf: ReplicaUnreachableError });
});

test('pipeWebSockets joins a client socket to a relay both ways and passes its close on with the mapped code', async (t) => {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((r) => server.once('listening', r));
  const accepted = new Promise<WebSocket>((done) => server.once('connection', done));
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as { port: number }).port}`);
  await new Promise((r) => client.once('open', r));
  const relay = await app.server.relay.open(self(), 'test.echo', { stream: 'piped' });
  pipeWebSockets(await accepted, relay, { closeFromA: (code) => ({ code: code + 1, reason: 'mapped' }) });
  const echoed = new Promise<Buffer>((done) => client.once('message', (data: Buffer) => done(data)));
  client.send(Buffer.from('through the pipe'), { binary: true });
  t.is((await echoed).toString(), 'through the pipe');
  client.close(4001);
  await new Promise<void>((done) => {
    const check = setInterval(() => {
      if (closes.has('piped')) {
        clearInterval(check);
        done();
      }
    }, 20);
  });
  t.is(closes.get('piped'), 4002, 'the relay was closed with the mapped code');
  await new Promise((r) => server.close(r));
});
