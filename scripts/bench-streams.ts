import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { option, post, startBenchServer, type BenchServer } from './lib/bench-server.ts';

const help = `Usage: npm run bench:streams -- [--size-mib N]

Measures file streaming. Starts the API (embedded database, local provisioner) as a child
process with a game server on a reference agent, then uploads and downloads one file of
N MiB (default 1024) directly to the agent and through the API
(PUT/GET /api/game/servers/:id/files/content), reporting MB/s each way and the API
process's RSS before and at its peak during the transfers (sampled every 50 ms).
Goal: through the API at least 80% of direct throughput, RSS growth under 64 MiB.
All traffic stays on 127.0.0.1; the file is generated on the fly, never held in memory.
Human-readable lines come first; the last line of the output is one JSON object with every figure.

Options:
  --size-mib <n>   file size in MiB (default 1024)
  -h, --help       show this help
`;

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(help);
  process.exit(0);
}
const sizeMiB = Number(option(args, '--size-mib') ?? 1024);
const block = Buffer.alloc(1024 * 1024, 7);

function rssOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:')) ?? '';
  return Number(line.replace(/\D+/g, '')) * 1024;
}

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
    }).on('error', reject).end();
  });
}

async function prepare(server: BenchServer): Promise<{ id: string; agent: Endpoint; api: Endpoint }> {
  const created = (await (await post(`${server.url}/api/game/servers`, { name: 'bench' }, server.adminToken)).json()) as { server: { id: string } };
  const id = created.server.id;
  for (let i = 0; i < 300; i += 1) {
    const s = (await (await fetch(`${server.url}/api/game/servers/${id}`, { headers: { Authorization: `Bearer ${server.adminToken}` } })).json()) as { server: { state: { lifecycle: string } } };
    if (s.server.state.lifecycle === 'active') break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const dir = join(server.dataDir, 'instances', id);
  const agentPort = Number((JSON.parse(readFileSync(join(dir, 'agent.json'), 'utf8')) as { port: number }).port);
  const token = readFileSync(join(dir, 'token'), 'utf8').trim();
  const path = (p: string) => `?path=${encodeURIComponent(p)}`;
  return {
    id,
    agent: { port: agentPort, path: `/files/content${path('/bench-direct.bin')}`, headers: { Authorization: `Bearer ${token}` } },
    api: { port: Number(new URL(server.url).port), path: `/api/game/servers/${id}/files/content${path('/bench-api.bin')}`, headers: { Authorization: `Bearer ${server.adminToken}` } },
  };
}

const server = await startBenchServer(undefined, { LOG_LEVEL: 'warn', PANEL_FILES_MAX_UPLOAD_BYTES: String(64 * 1024 ** 3) });
try {
  const { id, agent, api } = await prepare(server);
  const rssBefore = rssOf(server.pid);
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssOf(server.pid))), 50);
  const mb = sizeMiB * 1.048576;
  const results: Array<[string, number, number]> = [];
  for (const [name, target] of [['direct to the agent', agent], ['through the API', api]] as const) {
    process.stderr.write(`${name}: uploading ${sizeMiB} MiB\n`);
    const up = await put(target);
    process.stderr.write(`${name}: downloading\n`);
    const down = await get(target);
    results.push([name, mb / up, mb / down.seconds]);
  }
  clearInterval(sampler);
  process.stdout.write(`\n${sizeMiB} MiB each way, loopback, API and agent on the same machine\n\n| path | upload MB/s | download MB/s |\n|---|---|---|\n`);
  for (const [name, up, down] of results) process.stdout.write(`| ${name} | ${up.toFixed(0)} | ${down.toFixed(0)} |\n`);
  const [direct, proxied] = results as [[string, number, number], [string, number, number]];
  process.stdout.write(`\nthrough the API: upload ${((proxied[1] / direct[1]) * 100).toFixed(0)}%, download ${((proxied[2] / direct[2]) * 100).toFixed(0)}% of direct (goal ≥ 80%)\n`);
  process.stdout.write(`API RSS: ${(rssBefore / 1024 ** 2).toFixed(0)} MiB before, ${(rssPeak / 1024 ** 2).toFixed(0)} MiB at peak: +${((rssPeak - rssBefore) / 1024 ** 2).toFixed(1)} MiB (goal < 64 MiB)\n`);
  await fetch(`${server.url}/api/game/servers/${id}`, { method: 'DELETE', headers: { Authorization: `Bearer ${server.adminToken}` } });
  await new Promise((r) => setTimeout(r, 3000));
  const mbS = (n: number): number => Number(n.toFixed(0));
  const pct = (n: number, of: number): number => Number(((n / of) * 100).toFixed(0));
  const line = {
    bench: 'streams',
    size_mib: sizeMiB,
    upload_mb_s: { direct: mbS(direct[1]), api: mbS(proxied[1]) },
    download_mb_s: { direct: mbS(direct[2]), api: mbS(proxied[2]) },
    pct_of_direct: { upload: pct(proxied[1], direct[1]), download: pct(proxied[2], direct[2]) },
    rss_mib: { before: Number((rssBefore / 1024 ** 2).toFixed(1)), peak: Number((rssPeak / 1024 ** 2).toFixed(1)), growth: Number(((rssPeak - rssBefore) / 1024 ** 2).toFixed(1)) },
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
} finally {
  server.stop();
}
