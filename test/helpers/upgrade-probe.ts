import net from 'node:net';
import { parseResponses } from './raw-http.ts';

/** A WebSocket handshake request with no credentials at all. */
export function bareUpgrade(path: string, host: string): string {
  return `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;
}

/** Sends one bare upgrade from `localAddress` and resolves with the HTTP status and envelope code it got. */
export function tryUpgrade(port: number, request: string, localAddress: string): Promise<{ status: number; code: string; requestId: string | undefined }> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    const chunks: Buffer[] = [];
    const done = (): void => {
      socket.destroy();
      const [res] = parseResponses(Buffer.concat(chunks));
      let code = '';
      try {
        code = String((JSON.parse(res?.body ?? '{}') as { code?: string }).code ?? '');
      } catch {
        code = 'NOT_JSON';
      }
      resolve({ status: res?.status ?? 0, code, requestId: res?.headers['x-request-id'] });
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (parseResponses(Buffer.concat(chunks)).length > 0) done();
    });
    socket.on('error', done);
    socket.on('close', done);
    socket.write(request);
  });
}

/** `count` upgrades, `concurrency` at a time; the statuses seen and the refusals per second. */
export async function flood(port: number, request: string, localAddress: string, count: number, concurrency = 16): Promise<{ codes: Map<string, number>; perSecond: number }> {
  const codes = new Map<string, number>();
  let started = 0;
  const began = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < count) {
        started += 1;
        const { status, code } = await tryUpgrade(port, request, localAddress);
        const key = `${status} ${code}`;
        codes.set(key, (codes.get(key) ?? 0) + 1);
      }
    }),
  );
  return { codes, perSecond: count / ((performance.now() - began) / 1000) };
}
