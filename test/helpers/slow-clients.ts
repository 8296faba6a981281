import net from 'node:net';
import { parseResponses, type RawResponse } from './raw-http.ts';

export interface HeldConnection {
  socket: net.Socket;
  openedAt: number;
  /** When the server closed it, ms after it opened; null while open. */
  closedAfterMs: number | null;
  /** What the server answered before closing. */
  responses(): RawResponse[];
  closed: Promise<void>;
}

/**
 * Opens a connection from `localAddress` and, if `trickle` is given, sends it one byte at a time
 * every `everyMs` (a slowloris client: its headers never end); otherwise it sends nothing at all.
 */
export function holdConnection(port: number, localAddress: string, trickle?: { data: string; everyMs: number }): Promise<HeldConnection> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    const chunks: Buffer[] = [];
    let closedAfterMs: number | null = null;
    let timer: NodeJS.Timeout | undefined;
    const openedAt = performance.now();
    const closed = new Promise<void>((done) =>
      socket.once('close', () => {
        clearInterval(timer);
        closedAfterMs = performance.now() - openedAt;
        done();
      }),
    );
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.once('connect', () => {
      if (trickle) {
        let sent = 0;
        const next = (): void => {
          if (!socket.writable) return;
          socket.write(trickle.data[sent % trickle.data.length] ?? 'a');
          sent += 1;
        };
        next();
        timer = setInterval(next, trickle.everyMs);
      }
      resolve({
        socket,
        openedAt,
        get closedAfterMs() {
          return closedAfterMs;
        },
        responses: () => parseResponses(Buffer.concat(chunks)),
        closed,
      });
    });
    socket.once('error', reject);
  });
}

/** Latencies in ms of `count` sequential GETs of `url`, each asserted to answer `status`. */
export async function timedGets(url: string, count: number): Promise<{ statuses: number[]; p50: number; max: number }> {
  const times: number[] = [];
  const statuses: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const started = performance.now();
    const res = await fetch(url);
    await res.arrayBuffer();
    times.push(performance.now() - started);
    statuses.push(res.status);
  }
  times.sort((a, b) => a - b);
  return { statuses, p50: times[Math.floor(times.length / 2)] ?? 0, max: times.at(-1) ?? 0 };
}
