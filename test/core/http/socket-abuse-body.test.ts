import test from 'ava';
import net from 'node:net';
import { examplePlugin } from '../../fixtures/example-plugin/index.ts';
import { startTestApp, type TestApp } from '../../helpers/start-test-app.ts';
import { parseResponses, stillServes, type RawResponse } from '../../helpers/raw-http.ts';

// A 100 MB body to a JSON route: cut at the body limit, never buffered, never read to the end.
const bodyLimit = 1024 * 1024;
const hugeBytes = 100 * 1024 * 1024;

let app: TestApp;
let port: number;

test.before(async () => {
  app = await startTestApp({ plugins: [examplePlugin], config: { server: { body_limit_bytes: bodyLimit } } });
  port = Number(new URL(app.url).port);
});

test.after.always(async () => {
  await app?.close();
});

/** Sends `head` then up to `hugeBytes` of JSON-ish bytes as fast as the server takes them; stops when it answers or closes. */
function pushHugeBody(head: string, chunked: boolean): Promise<{ sent: number; response: RawResponse | undefined; ms: number }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = net.connect({ port, host: '127.0.0.1' });
    const received: Buffer[] = [];
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    chunk[0] = 0x22;
    let sent = 0;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve({ sent, response: parseResponses(Buffer.concat(received))[0], ms: performance.now() - started });
    };
    socket.on('data', (data: Buffer) => received.push(data));
    socket.on('error', () => finish());
    socket.on('close', finish);
    socket.on('end', finish);
    const pump = (): void => {
      while (!done && sent < hugeBytes) {
        const framed = chunked ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]) : chunk;
        sent += chunk.length;
        if (!socket.write(framed)) return void socket.once('drain', pump);
      }
    };
    socket.once('connect', () => {
      socket.write(head);
      pump();
    });
  });
}

for (const chunked of [false, true]) {
  test.serial(`a 100 MB body (${chunked ? 'chunked' : 'Content-Length'}) is cut at the limit with a 413 envelope, never buffered`, async (t) => {
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    const framing = chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${hugeBytes}`;
    const { sent, response, ms } = await pushHugeBody(`POST /api/example/notes HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${framing}\r\n\r\n`, chunked);
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    t.log(
      `${chunked ? 'chunked' : 'Content-Length'}: answered in ${ms.toFixed(0)} ms after ${(sent / 1024 / 1024).toFixed(1)} MiB sent; RSS of client and server together grew ${(rssGrowth / 1024 / 1024).toFixed(1)} MiB`,
    );
    t.is(response?.status, 413);
    t.is(response?.headers.connection, 'close', 'the connection is closed rather than the rest read and dropped');
    const body = JSON.parse(response?.body ?? '{}') as { code?: string; request_id?: string; details?: { limit_bytes?: number } };
    t.is(body.code, 'PAYLOAD_TOO_LARGE');
    t.is(body.details?.limit_bytes, bodyLimit);
    t.is(body.request_id, response?.headers['x-request-id']);
    // The kernel's socket buffers on both ends take a few MiB beyond what the server reads.
    t.true(sent < 24 * 1024 * 1024, `the server stopped taking bytes near the limit (${sent} sent)`);
    t.true(rssGrowth < 64 * 1024 * 1024, `memory stays bounded (${rssGrowth} bytes)`);
    t.is(await stillServes(app.url), 200);
  });
}
