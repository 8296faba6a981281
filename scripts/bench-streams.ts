import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { option, post, startBenchServer, type BenchServer } from './lib/bench-server.ts';
import { cpuSeconds } from './lib/proc-cpu.ts';

const help = `Usage: npm run bench:streams -- [--size-mib N] [--rounds R] [--cpu-prof-dir DIR]

Measures file streaming. Starts the API (embedded database, local provisioner) as a child
process with a game server on a reference agent, then uploads and downloads one file of
N MiB (default 1024) directly to the agent and through the API
(PUT/GET /api/game/servers/:id/files/content), the two paths taking turns for R rounds.
Reports the median MB/s each way and its range, the CPU seconds per GiB each process
(this client, the API, the agent) spent, and the API process's RSS before and at its peak
during the transfers (sampled every 50 ms).
Goal: through the API at least 85% of direct throughput, RSS growth under 64 MiB.
All traffic stays on 127.0.0.1; the file is generated on the fly, never held in memory.
Human-readable lines come first; the last line of the output is one JSON object with every figure.

Options:
  --size-mib <n>        file size in MiB (default 1024)
  --rounds <n>          rounds of direct-then-API transfers (default 2)
  --cpu-prof-dir <dir>  run the API under node --cpu-prof; its profile is written there when it stops
  -h, --help            show this help
`;

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(help);
  process.exit(0);
}
const sizeMiB = Number(option(args, '--size-mib') ?? 1024);
const rounds = Math.max(1, Number(option(args, '--rounds') ?? 2));
const block = Buffer.alloc(1024 * 1024, 7);

function rssOf(pid: number): number {
  const line =
    readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:')) ?? '';
  return Number(line.replace(/\D+/g, '')) * 1024;
}

/** CPU seconds (user + system) each process spent on one kind of transfer. */
interface Cpu {
  client: number;
  api: number;
  agent: number;
}
const zeroCpu = (): Cpu => ({ client: 0, api: 0, agent: 0 });

/** Runs one transfer and adds what each process spent on it to `into`; the API's share is counted on either path (near zero direct). */
async function measured(pids: { api: number; agent: number }, into: Cpu, transfer: () => Promise<number>): Promise<number> {
  const client = process.cpuUsage();
  const api = cpuSeconds(pids.api);
  const agent = cpuSeconds(pids.agent);
  const seconds = await transfer();
  const used = process.cpuUsage(client);
  into.client += (used.user + used.system) / 1e6;
  into.api += cpuSeconds(pids.api) - api;
  into.agent += cpuSeconds(pids.agent) - agent;
  return seconds;
}

const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

interface Endpoint {
  port: number;
  path: string;
  headers: Record<string, string>;
}

function put(target: Endpoint): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request({ host: '127.0.0.1', port: target.port, path: target.path, method: 'PUT', headers: { ...target.headers, 'Content-Length': String(sizeMiB * block.length) } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 201 ? resolve((performance.now() - started) / 1000) : reject(new Error(`upload answered ${res.statusCode}`))));
    });
    req.on('error', reject);
    let sent = 0;
    const pump = (): void => {
      while (sent < sizeMiB) {
        sent += 1;
        if (!req.write(block)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

function get(target: Endpoint): Promise<{ seconds: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    request({ host: '127.0.0.1', port: target.port, path: target.path, headers: target.headers }, (res) => {
      const hash = createHash('sha256');
      res.on('data', (c: Buffer) => hash.update(c));
      res.on('end', () => (res.statusCode === 200 ? resolve({ seconds: (performance.now() - started) / 1000, sha256: hash.digest('hex') }) : reject(new Error(`download answered ${res.statusCode}`))));
    })
      .on('error', reject)
      .end();
  });
}

async function prepare(server: BenchServer): Promise<{ id: string; agent: Endpoint; api: Endpoint; agentPid: number }> {
  const created = (await (await post(`${server.url}/api/game/servers`, { name: 'bench' }, server.adminToken)).json()) as { server: { id: string } };
  const id = created.server.id;
  for (let i = 0; i < 300; i += 1) {
    const s = (await (await fetch(`${server.url}/api/game/servers/${id}`, { headers: { Authorization: `Bearer ${server.adminToken}` } })).json()) as { server: { state: { lifecycle: string } } };
    if (s.server.state.lifecycle === 'active') break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const dir = join(server.dataDir, 'instances', id);
  const agentFile = JSON.parse(readFileSync(join(dir, 'agent.json'), 'utf8')) as { port: number; pid: number };
  const token = readFileSync(join(dir, 'token'), 'utf8').trim();
  const path = (p: string) => `?path=${encodeURIComponent(p)}`;
  return {
    id,
    agentPid: agentFile.pid,
    agent: { port: Number(agentFile.port), path: `/files/content${path('/bench-direct.bin')}`, headers: { Authorization: `Bearer ${token}` } },
    api: { port: Number(new URL(server.url).port), path: `/api/game/servers/${id}/files/content${path('/bench-api.bin')}`, headers: { Authorization: `Bearer ${server.adminToken}` } },
  };
}

const profileDir = option(args, '--cpu-prof-dir');
const server = await startBenchServer(undefined, { LOG_LEVEL: 'warn', PANEL_FILES_MAX_UPLOAD_BYTES: String(64 * 1024 ** 3) }, profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []);
try {
  const { id, agent, api, agentPid } = await prepare(server);
  const rssBefore = rssOf(server.pid);
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssOf(server.pid))), 50);
  const mb = sizeMiB * 1.048576;
  const paths = { direct: agent, api } as const;
  const speeds = { direct: { upload: [] as number[], download: [] as number[] }, api: { upload: [] as number[], download: [] as number[] } };
  const cpu = { direct: { upload: zeroCpu(), download: zeroCpu() }, api: { upload: zeroCpu(), download: zeroCpu() } };
  const pids = { api: server.pid, agent: agentPid };
  // Direct and through the API take turns, so a neighbour's load on the shared cores lands on both.
  for (let round = 1; round <= rounds; round += 1) {
    for (const name of ['direct', 'api'] as const) {
      process.stderr.write(`round ${round}/${rounds}, ${name}: uploading ${sizeMiB} MiB\n`);
      const up = await measured(pids, cpu[name].upload, () => put(paths[name]));
      process.stderr.write(`round ${round}/${rounds}, ${name}: downloading\n`);
      const down = await measured(pids, cpu[name].download, async () => (await get(paths[name])).seconds);
      speeds[name].upload.push(mb / up);
      speeds[name].download.push(mb / down);
    }
  }
  clearInterval(sampler);
  const mbS = (n: number): number => Number(n.toFixed(0));
  const pct = (n: number, of: number): number => Number(((n / of) * 100).toFixed(0));
  const range = (xs: number[]): string => (xs.length === 1 ? mbS(xs[0] as number).toString() : `${mbS(Math.min(...xs))}-${mbS(Math.max(...xs))}`);
  const direct = { upload: median(speeds.direct.upload), download: median(speeds.direct.download) };
  const proxied = { upload: median(speeds.api.upload), download: median(speeds.api.download) };
  const gib = (rounds * sizeMiB) / 1024;
  const perGib = (c: Cpu): Record<string, number> =>
    Object.fromEntries(
      Object.entries(c)
        .filter(([, v]) => v > 0)
        .map(([k, v]) => [k, Number((v / gib).toFixed(2))]),
    );
  process.stdout.write(
    `\n${sizeMiB} MiB each way, ${rounds} round(s), loopback, API and agent on the same machine (medians; range over rounds)\n\n| path | upload MB/s | download MB/s |\n|---|---|---|\n`,
  );
  process.stdout.write(`| direct to the agent | ${mbS(direct.upload)} (${range(speeds.direct.upload)}) | ${mbS(direct.download)} (${range(speeds.direct.download)}) |\n`);
  process.stdout.write(`| through the API | ${mbS(proxied.upload)} (${range(speeds.api.upload)}) | ${mbS(proxied.download)} (${range(speeds.api.download)}) |\n`);
  process.stdout.write(`\nthrough the API: upload ${pct(proxied.upload, direct.upload)}%, download ${pct(proxied.download, direct.download)}% of direct (goal ≥ 85%)\n`);
  for (const dir of ['upload', 'download'] as const) {
    process.stdout.write(`CPU s per GiB, ${dir}: direct ${JSON.stringify(perGib(cpu.direct[dir]))}, through the API ${JSON.stringify(perGib(cpu.api[dir]))}\n`);
  }
  process.stdout.write(
    `API RSS: ${(rssBefore / 1024 ** 2).toFixed(0)} MiB before, ${(rssPeak / 1024 ** 2).toFixed(0)} MiB at peak: +${((rssPeak - rssBefore) / 1024 ** 2).toFixed(1)} MiB (goal < 64 MiB)\n`,
  );
  await fetch(`${server.url}/api/game/servers/${id}`, { method: 'DELETE', headers: { Authorization: `Bearer ${server.adminToken}` } });
  await new Promise((r) => setTimeout(r, 3000));
  const line = {
    bench: 'streams',
    size_mib: sizeMiB,
    rounds,
    upload_mb_s: { direct: mbS(direct.upload), api: mbS(proxied.upload) },
    download_mb_s: { direct: mbS(direct.download), api: mbS(proxied.download) },
    pct_of_direct: { upload: pct(proxied.upload, direct.upload), download: pct(proxied.download, direct.download) },
    cpu_s_per_gib: { upload: { direct: perGib(cpu.direct.upload), api: perGib(cpu.api.upload) }, download: { direct: perGib(cpu.direct.download), api: perGib(cpu.api.download) } },
    rss_mib: { before: Number((rssBefore / 1024 ** 2).toFixed(1)), peak: Number((rssPeak / 1024 ** 2).toFixed(1)), growth: Number(((rssPeak - rssBefore) / 1024 ** 2).toFixed(1)) },
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
} finally {
  // Awaited: the API writes its profile (--cpu-prof-dir) as it exits.
  await server.stop();
}
