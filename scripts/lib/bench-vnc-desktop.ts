import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueAgentKey, runningSession, viewerUrl } from './bench-vnc-api.ts';
import { startVncBridge } from './bench-vnc-bridge.ts';
import {
  interleavedLatency,
  inputWorks,
  keyInput,
  median,
  openRfb,
  percentiles,
  pointerInput,
  timeFirstUpdate,
  type Connect,
  type FirstUpdateTiming,
  type Input,
  type Percentiles,
} from './bench-vnc-latency.ts';
import { DesktopAgent } from './desktop-agent.ts';
import type { RfbClient } from './rfb-client.ts';
import { tcpTransport, webSocketTransport } from './rfb-transport.ts';

export interface DesktopOptions {
  url: string;
  token: string;
  samples: number;
  connections: number;
  /** Registers a cleanup that must run even if the bench is interrupted. */
  onCleanup: (cleanup: () => Promise<void>) => void;
  say: (line: string) => void;
}

const paths = ['relay', 'direct', 'tcp'] as const;
type PathName = (typeof paths)[number];
type PerPath<T> = Record<PathName, T>;

export interface DesktopFigures {
  template: string;
  geometry: string;
  path: PerPath<string>;
  connections: number;
  /** Medians over fresh connections, from the WebSocket's open (TCP connect) to the end of the first full FramebufferUpdate, */
  first_update_ms: PerPath<number>;
  /** to ServerInit, */
  server_init_ms: PerPath<number>;
  /** to the first byte of that update (the gap after ServerInit is the request's way to Xvnc), */
  first_update_start_ms: PerPath<number>;
  /** and from asking for the WebSocket to its open (the relay authorizes the viewer in between). */
  open_ms: PerPath<number>;
  first_update_bytes: number;
  input: Input['kind'];
  input_detail: string;
  samples: number;
  lost: PerPath<number>;
  input_latency_ms: PerPath<Percentiles>;
  /** relay / direct (the bridge) */
  ratio: { first_update: number; p50: number; p99: number };
}

const described: PerPath<string> = {
  relay: 'viewer WebSocket -> API /vnc-viewer -> agent socket -> desktop agent -> Xvnc',
  direct: 'WebSocket -> bridge (ws server piping to TCP, like websockify) -> Xvnc',
  tcp: 'raw TCP to Xvnc (no WebSocket; a reference for what the bridge itself costs)',
};
const perPath = <T>(f: (p: PathName) => T): PerPath<T> => ({ relay: f('relay'), direct: f('direct'), tcp: f('tcp') });

const warmupRounds = 20;
const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100;

/**
 * A real desktop (DesktopAgent: TigerVNC Xvnc with xterm) viewed through the relay
 * (/vnc-viewer/{id} -> API -> agent socket -> agent -> Xvnc), through a plain
 * WebSocket-to-TCP bridge to the same Xvnc, and over raw TCP, in the same run, in turn.
 */
export async function benchDesktop(o: DesktopOptions): Promise<DesktopFigures> {
  const agentId = 'bench-desktop-agent';
  const key = await issueAgentKey(o.url, o.token, agentId);
  const dataDir = mkdtempSync(join(tmpdir(), 'panel-bench-desktops-'));
  const agent = new DesktopAgent({ url: o.url, agentId, key, dataDir, maxSessions: 1 });
  let cleaned = false;
  const cleanup = async (): Promise<void> => {
    if (cleaned) return;
    cleaned = true;
    await agent.shutdown(true).catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  };
  o.onCleanup(cleanup);
  const opened: Array<{ close(): Promise<void> }> = [];
  try {
    await agent.start();
    const template = 'xterm-desktop';
    const id = await runningSession(o.url, o.token, { template, platform: 'local' });
    const port = agent.desktops.snapshot().get(id)?.port;
    if (!port) throw new Error(`the desktop agent reports no Xvnc port for session ${id}`);
    const bridge = await startVncBridge(port);
    opened.push(bridge);
    const connect: PerPath<Connect> = {
      relay: () => webSocketTransport(viewerUrl(o.url, id, o.token)),
      direct: () => webSocketTransport(bridge.url),
      tcp: () => tcpTransport(port),
    };

    // First update: fresh connections, the paths in turn, after one unmeasured round.
    const timings = perPath<FirstUpdateTiming[]>(() => []);
    for (let i = -1; i < o.connections; i += 1) {
      for (const path of paths) {
        const t = await timeFirstUpdate(connect[path]);
        if (i >= 0) timings[path].push(t);
      }
    }
    const med = (key: keyof FirstUpdateTiming): PerPath<number> => perPath((p) => median(timings[p].map((t) => t[key])));
    const [firstUpdate, serverInit, updateStart, open] = [med('ms'), med('serverInitMs'), med('startMs'), med('openMs')];
    const bytes = timings.relay[0]?.bytes ?? 0;
    const timing = (p: PathName): string => `${firstUpdate[p]} ms (ServerInit at ${serverInit[p]}, update from ${updateStart[p]})`;
    o.say(
      `desktop first update, ms after open (median of ${o.connections} fresh connections each, a full ${bytes} B Raw update): relay ${timing('relay')}, direct bridge ${timing('direct')}, raw TCP ${timing('tcp')}`,
    );

    // Input latency: one viewer per path, kept open.
    const clients = {} as PerPath<RfbClient>;
    for (const path of paths) {
      const { client } = await openRfb(connect[path]);
      opened.push(client);
      clients[path] = client;
    }
    let input: Input = keyInput;
    if (!(await inputWorks(clients.relay, keyInput))) {
      o.say('desktop: key presses cause no update (xterm has no keyboard focus?); measuring pointer moves instead');
      input = pointerInput;
      if (!(await inputWorks(clients.relay, pointerInput))) throw new Error('neither key presses nor pointer moves change the desktop');
    }
    const { latencies, lost } = await interleavedLatency(clients, input, o.samples, warmupRounds);
    const lat = perPath((p) => percentiles(latencies[p] ?? []));
    const line = (p: PathName): string => `p50 ${lat[p].p50} ms p99 ${lat[p].p99} ms`;
    o.say(`desktop input -> update (${input.kind}, ${o.samples} samples each, interleaved): relay ${line('relay')}, direct bridge ${line('direct')}, raw TCP ${line('tcp')}`);
    const geometry = clients.relay.serverInit;
    return {
      template,
      geometry: `${geometry?.width}x${geometry?.height}x${geometry?.pixelFormat.bitsPerPixel}bpp`,
      path: described,
      connections: o.connections,
      first_update_ms: firstUpdate,
      server_init_ms: serverInit,
      first_update_start_ms: updateStart,
      open_ms: open,
      first_update_bytes: bytes,
      input: input.kind,
      input_detail: input.description,
      samples: o.samples,
      lost: perPath((p) => lost[p] ?? 0),
      input_latency_ms: lat,
      ratio: { first_update: ratio(firstUpdate.relay, firstUpdate.direct), p50: ratio(lat.relay.p50, lat.direct.p50), p99: ratio(lat.relay.p99, lat.direct.p99) },
    };
  } finally {
    for (const c of opened.reverse()) await c.close().catch(() => undefined);
    await cleanup();
  }
}
