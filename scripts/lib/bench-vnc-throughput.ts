import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { WebSocket } from 'ws';
import { viewerUrl } from './bench-vnc-api.ts';

/** The simulator's VNC server in pattern mode streams after the client's version; these read it. */
const hello = Buffer.from('RFB 003.008\n');

export const rssMiB = (pid: number): number => Number((readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/) ?? [])[1] ?? 0) / 1024;

/** Reads `bytes` after the RFB handshake straight from the VNC server; seconds taken. */
export function readDirect(port: number, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let got = -hello.length;
    let started = 0;
    socket.once('data', () => {
      socket.write(hello);
      started = performance.now();
    });
    socket.on('data', (chunk: Buffer) => {
      got += chunk.length;
      if (got >= bytes) {
        socket.destroy();
        resolve((performance.now() - started) / 1000);
      }
    });
    socket.on('error', reject);
  });
}

/** A viewer on /vnc-viewer/{id}: reads `bytes` (seconds taken), or with `read` false, pauses after the greeting and never reads. */
export function openViewer(url: string, id: string, token: string, read: boolean, bytes: number): Promise<{ ws: WebSocket; seconds: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(viewerUrl(url, id, token));
    let got = -hello.length;
    let started = 0;
    let done: (s: number) => void = () => undefined;
    const seconds = new Promise<number>((r) => (done = r));
    ws.on('message', (data: Buffer) => {
      if (started === 0) {
        ws.send(hello);
        started = performance.now();
        if (!read) ws.pause();
      }
      got += data.length;
      if (got >= bytes) {
        ws.close();
        done((performance.now() - started) / 1000);
      }
    });
    ws.on('open', () => resolve({ ws, seconds }));
    ws.on('error', reject);
  });
}

export interface ThroughputFigures {
  size_mib: number;
  direct_mb_s: number;
  relay_mb_s: number;
  relay_pct_of_direct: number;
}

/** After a 64 MiB warm-up each way, `bytes` directly over TCP and through the relay, in MB/s. */
export async function benchThroughput(url: string, token: string, id: string, port: number, bytes: number): Promise<ThroughputFigures> {
  const warmup = 64 * 1024 * 1024;
  await readDirect(port, warmup);
  await (await openViewer(url, id, token, true, warmup)).seconds;
  const direct = await readDirect(port, bytes);
  const relayed = await (await openViewer(url, id, token, true, bytes)).seconds;
  const mb = bytes / 1e6;
  return { size_mib: bytes / 1048576, direct_mb_s: Math.round(mb / direct), relay_mb_s: Math.round(mb / relayed), relay_pct_of_direct: Math.round((direct / relayed) * 100) };
}

export interface MemoryFigures {
  viewers: number;
  rss_before_mib: number;
  rss_after_mib: number;
  growth_mib: number;
  per_stream_mib: number;
}

/** Creates the sessions, opens a viewer on each that never reads, waits 3 s, and reports the API's RSS growth. */
export async function benchStalledMemory(url: string, token: string, pid: number, createSessions: () => Promise<string[]>): Promise<MemoryFigures> {
  const before = rssMiB(pid);
  const ids = await createSessions();
  const viewers = await Promise.all(ids.map((sid) => openViewer(url, sid, token, false, Number.POSITIVE_INFINITY)));
  try {
    await new Promise((r) => setTimeout(r, 3000));
    const after = rssMiB(pid);
    const r1 = (n: number): number => Math.round(n * 10) / 10;
    return { viewers: ids.length, rss_before_mib: r1(before), rss_after_mib: r1(after), growth_mib: r1(after - before), per_stream_mib: Math.round(((after - before) / ids.length) * 100) / 100 };
  } finally {
    for (const v of viewers) v.ws.terminate();
  }
}
