import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { WebSocket } from 'ws';
import { option, percentile, post, startBenchServer, type BenchServer } from './lib/bench-server.ts';

const help = `Usage: npm run bench:ide-proxy -- [--concurrency N] [--duration-s S] [--ws-messages N]

Measures the hosted IDE proxy. Starts the API (embedded database, local provisioner) as a
child process, creates a dev container whose IDE is the stand-in (src/agent/sample/ide-stand-in.ts),
opens an IDE session, then compares, directly against the IDE's port and through the API
(Host dev-<vmid>.localhost, session cookie):
  - HTTP: GET /echo with N keep-alive workers for S seconds: requests/s, p50, p99
  - WebSocket: sequential 64-byte echoes (round trip p50, p99) and 64 KiB messages with
    16 in flight for S seconds (MB/s)
Goal: proxied throughput at least 70% of direct, added p99 latency under 2 ms.
All traffic stays on 127.0.0.1.

Options:
  --concurrency <n>    HTTP workers (default 16)
  --duration-s <s>     length of each HTTP and WebSocket throughput run (default 8)
  --ws-messages <n>    sequential echoes for the round-trip measure (default 2000)
  -h, --help           show this help
`;

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(help);
  process.exit(0);
}
const concurrency = Number(option(args, '--concurrency') ?? 16);
const durationS = Number(option(args, '--duration-s') ?? 8);
const wsMessages = Number(option(args, '--ws-messages') ?? 2000);

interface Target {
  port: number;
  headers: Record<string, string>;
}

async function get(url: string, token: string): Promise<Record<string, unknown>> {
  return (await (await fetch(url, { headers: { Authorization: `Bearer ${token}` } })).json()) as Record<string, unknown>;
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A dev container with its IDE running and a session cookie for it. */
async function prepare(server: BenchServer): Promise<{ id: string; direct: Target; proxied: Target }> {
  const created = (await (await post(`${server.url}/api/dev`, { name: 'bench' }, server.adminToken)).json()) as { container: { id: string; vmid: number } };
  const { id, vmid } = created.container;
  await waitFor('the container to be active', async () => ((await get(`${server.url}/api/dev/${id}`, server.adminToken)).container as { state: { lifecycle: string } }).state.lifecycle === 'active' || undefined);
  await post(`${server.url}/api/dev/${id}/codeserver/start`, {}, server.adminToken);
  const port = await waitFor('the IDE to run', async () => {
    const c = (await get(`${server.url}/api/dev/${id}`, server.adminToken)).container as { state: { details: { codeserver?: { state: string; port: number } } } };
    return c.state.details.codeserver?.state === 'running' ? c.state.details.codeserver.port : undefined;
  });
  const link = new URL(((await (await post(`${server.url}/api/dev/${id}/ide-token`, {}, server.adminToken)).json()) as { url: string }).url);
  const apiPort = Number(new URL(server.url).port);
  const host = `dev-${vmid}.localhost`;
  const cookie = await new Promise<string>((resolve, reject) => {
    request({ port: apiPort, path: `/${link.search}`, headers: { Host: host } }, (res) => {
      res.resume();
      resolve((res.headers['set-cookie']?.[0] ?? '').split(';')[0] ?? '');
    }).on('error', reject).end();
  });
  return { id, direct: { port, headers: {} }, proxied: { port: apiPort, headers: { Host: host, Cookie: cookie, Origin: `http://${host}` } } };
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function httpRun(target: Target, apiPid: number): Promise<{ rps: number; p50: number; p99: number; apiCores: number }> {
  const cpuBefore = cpuSeconds(apiPid);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  const end = Date.now() + durationS * 1000;
  const worker = async (): Promise<void> => {
    while (Date.now() < end) {
      const started = performance.now();
      await new Promise<void>((resolve, reject) => {
        request({ port: target.port, path: '/echo', agent, headers: target.headers }, (res) => {
          if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}`));
          res.resume().on('end', () => resolve());
        }).on('error', reject).end();
      });
      latencies.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { rps: latencies.length / durationS, p50: percentile(latencies, 50), p99: percentile(latencies, 99), apiCores: (cpuSeconds(apiPid) - cpuBefore) / durationS };
}

function openWs(target: Target): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${target.port}/`, { headers: target.headers, perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

async function wsRun(target: Target): Promise<{ p50: number; p99: number; mbps: number }> {
  const ws = await openWs(target);
  const rtts: number[] = [];
  const small = Buffer.alloc(64, 1);
  for (let i = 0; i < wsMessages; i += 1) {
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
  ws.close();
  return { p50: percentile(rtts, 50), p99: percentile(rtts, 99), mbps: received / durationS / 1024 / 1024 };
}

const server = await startBenchServer(undefined, { PANEL_IDE_SCHEME: 'http', DEV_IDE_SUFFIX: 'localhost', LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info' });
try {
  const { id, direct, proxied } = await prepare(server);
  process.stderr.write('warming up\n');
  await httpRun(direct, server.pid);
  await httpRun(proxied, server.pid);
  const results: Record<string, { http: Awaited<ReturnType<typeof httpRun>>; ws: Awaited<ReturnType<typeof wsRun>> }> = {};
  for (const [name, target] of [['direct', direct], ['through the API', proxied]] as const) {
    process.stderr.write(`measuring ${name}\n`);
    results[name] = { http: await httpRun(target, server.pid), ws: await wsRun(target) };
  }
  const d = results.direct as (typeof results)[string];
  const p = results['through the API'] as (typeof results)[string];
  const f = (n: number, digits = 2): string => n.toFixed(digits);
  process.stdout.write(`\nHTTP GET /echo, ${concurrency} workers, ${durationS} s; WebSocket ${wsMessages} sequential 64 B echoes, then 64 KiB x16 in flight for ${durationS} s\n\n`);
  process.stdout.write('| path | HTTP req/s | HTTP p50 / p99 ms | API CPU (cores) | WS RTT p50 / p99 ms | WS MB/s |\n|---|---|---|---|---|---|\n');
  for (const [name, r] of Object.entries(results)) {
    process.stdout.write(`| ${name} | ${f(r.http.rps, 0)} | ${f(r.http.p50)} / ${f(r.http.p99)} | ${f(r.http.apiCores)} | ${f(r.ws.p50, 3)} / ${f(r.ws.p99, 3)} | ${f(r.ws.mbps, 1)} |\n`);
  }
  process.stdout.write(`\nproxied HTTP throughput: ${f((p.http.rps / d.http.rps) * 100, 0)}% of direct (goal ≥ 70%); added HTTP p99: ${f(p.http.p99 - d.http.p99)} ms; added WS RTT p99: ${f(p.ws.p99 - d.ws.p99, 3)} ms (goal < 2 ms); WS MB/s: ${f((p.ws.mbps / d.ws.mbps) * 100, 0)}% of direct\n`);
  await fetch(`${server.url}/api/dev/${id}`, { method: 'DELETE', headers: { Authorization: `Bearer ${server.adminToken}` } });
  await new Promise((r) => setTimeout(r, 2000));
} finally {
  server.stop();
}
