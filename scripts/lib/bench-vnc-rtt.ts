import { percentiles, type Percentiles } from './bench-vnc-latency.ts';
import type { OpenedTransport } from './rfb-transport.ts';

/** The simulator's echo VNC server greets with its RFB version and echoes everything after the client's. */
const version = Buffer.from('RFB 003.008\n', 'ascii');
/** A small RFB message's size: a key press is 8 bytes, a pointer move 6, an update request 10; 64 covers a burst of them. */
export const rttFrameBytes = 64;
const timeoutMs = 5_000;

/** One path to an echo server, past the version exchange: `roundTrip` sends 64 bytes and times their echo. */
interface EchoPath {
  roundTrip(): Promise<number>;
  close(): Promise<void>;
}

async function echoPath(open: () => Promise<OpenedTransport>): Promise<EchoPath> {
  const { transport } = await open();
  let got = 0;
  let want = version.length;
  let wake: (() => void) | null = null;
  transport.onData((chunk) => {
    got += chunk.length;
    if (got >= want && wake) {
      const w = wake;
      wake = null;
      w();
    }
  });
  const until = (bytes: number): Promise<void> =>
    new Promise((resolve, reject) => {
      want = bytes;
      if (got >= want) return resolve();
      const timer = setTimeout(() => reject(new Error(`no echo within ${timeoutMs} ms`)), timeoutMs);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  await until(version.length);
  transport.send(version);
  const payload = Buffer.alloc(rttFrameBytes, 0x5a);
  return {
    roundTrip: async () => {
      const target = got + rttFrameBytes;
      const sentAt = performance.now();
      // A fresh copy each time: the transport may hold the buffer until it is written.
      transport.send(Buffer.from(payload));
      await until(target);
      return performance.now() - sentAt;
    },
    close: () => transport.close(),
  };
}

export interface RttFigures {
  frame_bytes: number;
  samples: number;
  path: Record<string, string>;
  rtt_ms: Record<string, Percentiles>;
  /** relay minus bridge, and relay minus raw TCP: what the relay adds to a round trip. */
  added_p50_ms: { vs_bridge: number; vs_tcp: number };
  added_p99_ms: { vs_bridge: number; vs_tcp: number };
}

/**
 * Round trips of 64-byte messages through each path to the same kind of echo server, one at a
 * time. After `warmup` unmeasured rounds the paths take turns sample by sample, so machine noise
 * hits them alike.
 */
export async function benchRoundTrips(paths: Record<string, { describe: string; open: () => Promise<OpenedTransport> }>, samples: number, warmup: number): Promise<RttFigures> {
  const names = Object.keys(paths);
  const opened: Record<string, EchoPath> = {};
  try {
    for (const name of names) opened[name] = await echoPath((paths[name] as { open: () => Promise<OpenedTransport> }).open);
    const times: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    for (let round = 0; round < warmup + samples; round += 1) {
      for (const name of names) {
        const ms = await (opened[name] as EchoPath).roundTrip();
        if (round >= warmup) times[name]?.push(ms);
      }
    }
    const rtt = Object.fromEntries(names.map((n) => [n, percentiles(times[n] as number[])]));
    const at = (n: string): Percentiles => rtt[n] ?? { p50: NaN, p99: NaN };
    const diff = (a: number, b: number): number => Math.round((a - b) * 1000) / 1000;
    return {
      frame_bytes: rttFrameBytes,
      samples,
      path: Object.fromEntries(names.map((n) => [n, (paths[n] as { describe: string }).describe])),
      rtt_ms: rtt,
      added_p50_ms: { vs_bridge: diff(at('relay').p50, at('bridge').p50), vs_tcp: diff(at('relay').p50, at('tcp').p50) },
      added_p99_ms: { vs_bridge: diff(at('relay').p99, at('bridge').p99), vs_tcp: diff(at('relay').p99, at('tcp').p99) },
    };
  } finally {
    for (const path of Object.values(opened)) await path.close().catch(() => undefined);
  }
}
