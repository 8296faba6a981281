import { Agent, request } from 'node:http';
import { WebSocket } from 'ws';
import { percentile } from './bench-server.ts';
import { totalCpuSeconds } from './proc-cpu.ts';

/** Where the load goes: a port on 127.0.0.1 and the headers every request carries. */
export interface Target {
  port: number;
  headers: Record<string, string>;
}

export interface HttpFigures {
  requests: number;
  /** Wall-clock length of the run, from the first request to the last answer. */
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  /** CPU seconds the proxy's processes used during the run (0 with none given). */
  cpuSeconds: number;
}

/**
 * GET /echo from `concurrency` keep-alive workers for `durationS` seconds, each waiting for its
 * answer before the next. The CPU of `cpuPids` (the proxy) is read before and after.
 */
export async function httpRun(target: Target, concurrency: number, durationS: number, cpuPids: () => number[]): Promise<HttpFigures> {
  const pids = cpuPids();
  const cpuBefore = totalCpuSeconds(pids);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  const started = performance.now();
  const end = Date.now() + durationS * 1000;
  const worker = async (): Promise<void> => {
    while (Date.now() < end) {
      const sent = performance.now();
      await new Promise<void>((resolve, reject) => {
        request({ port: target.port, path: '/echo', agent, headers: target.headers }, (res) => {
          if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}`));
          res.resume().on('end', () => resolve());
        })
          .on('error', reject)
          .end();
      });
      latencies.push(performance.now() - sent);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  const cpu = totalCpuSeconds(pids) - cpuBefore;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { requests: latencies.length, seconds, rps: latencies.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), cpuSeconds: cpu };
}

function openWs(target: Target): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${target.port}/`, { headers: target.headers, perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

export interface WsFigures {
  p50: number;
  p99: number;
  mbps: number;
}

/** `messages` sequential 64-byte echoes (round trip), then 64 KiB messages, 16 in flight, for `durationS` s. */
export async function wsRun(target: Target, messages: number, durationS: number): Promise<WsFigures> {
  const ws = await openWs(target);
  const rtts: number[] = [];
  const small = Buffer.alloc(64, 1);
  for (let i = 0; i < messages; i += 1) {
    const started = performance.now();
    await new Promise<void>((resolve) => {
      ws.once('message', () => resolve());
      ws.send(small);
    });
    rtts.push(performance.now() - started);
  }
  rtts.sort((a, b) => a - b);
  const big = Buffer.alloc(64 * 1024, 2);
  let received = 0;
  const started = performance.now();
  const end = Date.now() + durationS * 1000;
  await new Promise<void>((resolve) => {
    let inFlight = 0;
    const pump = (): void => {
      while (inFlight < 16 && Date.now() < end) {
        inFlight += 1;
        ws.send(big);
      }
      if (inFlight === 0) resolve();
    };
    ws.on('message', (data: Buffer) => {
      received += data.length;
      inFlight -= 1;
      pump();
    });
    pump();
  });
  const seconds = (performance.now() - started) / 1000;
  ws.close();
  return { p50: percentile(rtts, 50), p99: percentile(rtts, 99), mbps: received / seconds / 1024 / 1024 };
}
