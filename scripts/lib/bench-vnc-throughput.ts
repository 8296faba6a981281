import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { WebSocket } from 'ws';
import { viewerUrl } from './bench-vnc-api.ts';
import { startVncBridgeProcess } from './bench-vnc-processes.ts';
import { percentile } from './bench-server.ts';
import { cpuSeconds } from './proc-cpu.ts';

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

/**
 * A WebSocket reader of the pattern stream (a viewer on /vnc-viewer/{id}, or the bridge): reads
 * `bytes` after the version exchange (seconds taken), or with `read` false, pauses after the
 * greeting and never reads.
 */
export function openReader(wsUrl: string, read: boolean, bytes: number): Promise<{ ws: WebSocket; seconds: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
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

export const openViewer = (url: string, id: string, token: string, read: boolean, bytes: number): Promise<{ ws: WebSocket; seconds: Promise<number> }> =>
  openReader(viewerUrl(url, id, token), read, bytes);

type PathName = 'tcp' | 'bridge' | 'relay';
/** CPU seconds per GiB of each process taking part: the API, the agent (with its VNC servers), the bridge, and the bench (the reader). */
type CpuShares = { api: number; agent: number; bridge: number; viewer: number };

export interface ThroughputFigures {
  size_mib: number;
  rounds: number;
  path: Record<PathName, string>;
  /** Medians over the rounds. */
  tcp_mb_s: number;
  bridge_mb_s: number;
  relay_mb_s: number;
  /** The goal's figure: relay / bridge, from the medians. */
  relay_vs_bridge: number;
  relay_pct_of_tcp: number;
  /** CPU seconds per GiB moved, over all rounds, per process. */
  cpu_s_per_gib: Record<PathName, CpuShares>;
}

const medianOf = (values: number[]): number =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  );

/**
 * After a 64 MiB warm-up on each path, `rounds` rounds of `bytes` on each: raw TCP to the VNC
 * server, the plain bridge (its own process, WebSocket -> TCP) to it, and the relay; the paths
 * take turns so machine noise hits them alike. MB/s of the median round.
 */
export async function benchThroughput(o: {
  url: string;
  token: string;
  id: string;
  port: number;
  bytes: number;
  rounds: number;
  apiPid: number;
  agentPid: number;
  nodeArgs: string[];
}): Promise<ThroughputFigures> {
  const bridge = await startVncBridgeProcess(o.port, o.nodeArgs);
  try {
    const runs: Record<PathName, (n: number) => Promise<number>> = {
      tcp: (n) => readDirect(o.port, n),
      bridge: async (n) => (await openReader(bridge.url, true, n)).seconds,
      relay: async (n) => (await openViewer(o.url, o.id, o.token, true, n)).seconds,
    };
    const warmup = 64 * 1024 * 1024;
    for (const run of Object.values(runs)) await run(warmup);
    const pids = { api: o.apiPid, agent: o.agentPid, bridge: bridge.pid, viewer: process.pid };
    const seconds: Record<PathName, number[]> = { tcp: [], bridge: [], relay: [] };
    const zero = (): CpuShares => ({ api: 0, agent: 0, bridge: 0, viewer: 0 });
    const cpu: Record<PathName, CpuShares> = { tcp: zero(), bridge: zero(), relay: zero() };
    const names = Object.keys(pids) as Array<keyof CpuShares>;
    for (let r = 0; r < o.rounds; r += 1) {
      for (const name of Object.keys(runs) as PathName[]) {
        const before = names.map((n) => cpuSeconds(pids[n]));
        seconds[name].push(await runs[name](o.bytes));
        names.forEach((n, i) => (cpu[name][n] += cpuSeconds(pids[n]) - (before[i] as number)));
      }
    }
    const gib = (o.rounds * o.bytes) / 1024 ** 3;
    const perGib = (c: CpuShares): CpuShares => Object.fromEntries(names.map((n) => [n, Math.round((c[n] / gib) * 100) / 100])) as CpuShares;
    const mbS = (name: PathName): number => Math.round(o.bytes / 1e6 / medianOf(seconds[name]));
    const [tcp, viaBridge, relay] = [mbS('tcp'), mbS('bridge'), mbS('relay')];
    return {
      size_mib: o.bytes / 1048576,
      rounds: o.rounds,
      path: {
        tcp: 'raw TCP to the VNC server',
        bridge: 'WebSocket -> plain bridge (its own process, ws server piping to TCP) -> VNC server',
        relay: 'viewer WebSocket -> API /vnc-viewer -> agent socket -> agent process -> VNC server',
      },
      tcp_mb_s: tcp,
      bridge_mb_s: viaBridge,
      relay_mb_s: relay,
      relay_vs_bridge: Math.round((relay / viaBridge) * 100) / 100,
      relay_pct_of_tcp: Math.round((relay / tcp) * 100),
      cpu_s_per_gib: { tcp: perGib(cpu.tcp), bridge: perGib(cpu.bridge), relay: perGib(cpu.relay) },
    };
  } finally {
    await bridge.stop();
  }
}

export interface MemoryFigures {
  viewers: number;
  rss_before_mib: number;
  rss_after_mib: number;
  growth_mib: number;
  per_stream_mib: number;
}

/**
 * The API's RSS once it has stopped moving: at least 10 s after the sessions were made, and
 * then 5 readings a second apart within 2 MiB (at most 40 s). After boot, or after heavy
 * traffic, V8 hands memory back some seconds later (its memory reducer), by hundreds of MiB,
 * which would read as negative growth.
 */
async function settledRss(pid: number): Promise<number> {
  const readings: number[] = [];
  for (let i = 0; i < 40; i += 1) {
    await new Promise((r) => setTimeout(r, 1000));
    readings.push(rssMiB(pid));
    const last5 = readings.slice(-5);
    if (i >= 9 && Math.max(...last5) - Math.min(...last5) < 2) break;
  }
  return readings[readings.length - 1] as number;
}

/** Creates the sessions, waits for the API's RSS to settle, opens a viewer on each that never reads, waits 3 s, and reports the API's RSS growth. */
export async function benchStalledMemory(url: string, token: string, pid: number, createSessions: () => Promise<string[]>): Promise<MemoryFigures> {
  const ids = await createSessions();
  const before = await settledRss(pid);
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
