import test from 'ava';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { WebSocket } from 'ws';
import { ReverseProxy } from '../../../src/core/proxy/reverse-proxy.ts';
import { createLogger } from '../../../src/core/log/logger.ts';
import { startStandIn } from '../../helpers/ide-stand-in.ts';

/**
 * http-proxy 1.18 is known to leak sockets when clients abort on Node ≥ 15.5. This soak
 * aborts thousands of proxied requests and WebSockets mid-flight through our ReverseProxy
 * and checks that open sockets and the heap come back to where they started.
 */
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const heapAfterGc = async (): Promise<number> => {
  for (let i = 0; i < 3; i += 1) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
};

/** Sockets of this process connected to the upstream (the proxy's side). */
const upstreamSockets = (port: number): number =>
  (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().filter((h) => (h as Socket).remotePort === port && !(h as Socket).destroyed).length;

test.serial('thousands of aborted requests and WebSockets leave no sockets behind and the heap where it was', async (t) => {
  t.timeout(180_000);
  const ide = await startStandIn();
  const proxy = new ReverseProxy({ idleTimeoutMs: 10_000, maxSockets: 128, log: createLogger('silent') });
  const front: Server = createServer((req, res) => {
    void proxy.web(req, res, {
      target: ide.url,
      path: req.url ?? '/',
      publicHost: 'dev-1.test',
      publicProto: 'http',
      clientIp: '127.0.0.1',
      isPanelCookie: () => false,
      onFailure: (r, status) => r.writeHead(status).end(),
    });
  });
  front.on('upgrade', (req, socket, head) => {
    socket.on('error', () => undefined);
    proxy.ws(req, socket, head, { target: ide.url, path: req.url ?? '/', publicHost: 'dev-1.test', publicProto: 'http', clientIp: '127.0.0.1', isPanelCookie: () => false });
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  const port = (front.address() as AddressInfo).port;
  t.teardown(async () => {
    proxy.close();
    front.closeAllConnections();
    await new Promise((r) => front.close(r));
    await ide.stop();
  });

  const connections = (): Promise<number> => new Promise((resolve) => front.getConnections((_e, n) => resolve(n)));
  // Warm up (JIT, pools), then take the baseline.
  const roundTrip = (path: string) =>
    new Promise<void>((resolve, reject) =>
      request({ port, path }, (res) => res.resume().on('end', resolve))
        .on('error', reject)
        .end(),
    );
  for (let i = 0; i < 50; i += 1) await roundTrip('/echo');
  const baseHeap = await heapAfterGc();

  const abortMidBody = () =>
    new Promise<void>((resolve) => {
      const req = request({ port, path: '/bytes?n=10000000' }, (res) => res.once('data', () => req.destroy()));
      req.on('error', () => undefined);
      req.on('close', () => resolve());
      req.end();
    });
  const abortBeforeAnswer = () =>
    new Promise<void>((resolve) => {
      const req = request({ port, path: '/slow?ms=3000' });
      req.on('error', () => undefined);
      req.on('close', () => resolve());
      req.end();
      setTimeout(() => req.destroy(), 20);
    });
  const abortSocket = () =>
    new Promise<void>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
      ws.on('error', () => undefined);
      ws.on('close', () => resolve());
      ws.on('open', () => {
        ws.send('x'.repeat(1024));
        ws.once('message', () => (ws as unknown as { _socket: Socket })._socket.destroy());
      });
    });

  const rounds = 10;
  for (let round = 0; round < rounds; round += 1) {
    await Promise.all([...Array.from({ length: 100 }, abortMidBody), ...Array.from({ length: 100 }, abortBeforeAnswer), ...Array.from({ length: 50 }, abortSocket)]);
  }

  // Everything drains: no client connections, no upstream sockets beyond the keep-alive pool's idle ones.
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && ((await connections()) > 0 || upstreamSockets(ide.port) > 0)) await new Promise((r) => setTimeout(r, 200));
  t.is(await connections(), 0, 'client connections left open');
  t.is(upstreamSockets(ide.port), 0, 'upstream sockets left open');
  const grown = (await heapAfterGc()) - baseHeap;
  t.log(`${rounds * 250} aborted exchanges; heap ${(grown / 1024 / 1024).toFixed(1)} MiB above baseline`);
  t.true(grown < 16 * 1024 * 1024, `heap grew by ${(grown / 1024 / 1024).toFixed(1)} MiB`);

  // And the proxy still works afterwards.
  await roundTrip('/echo');
  t.pass();
});
