import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startFakeAgents } from '../test/fakes/fake-agents.ts';
import { option, percentile, startBenchServer } from './lib/bench-server.ts';
import { cpuSeconds } from './lib/proc-cpu.ts';
import { recordBenchInstances } from './lib/bench-instances.ts';

const help = `Usage: npm run bench:poller -- [--agents N] [--interval-ms MS] [--duration-s S] [--blackhole-percent P] [--cpu-prof-dir DIR] --database-url URL

Measures the central poller. Starts N fake agents on loopback (one process, one port),
records N active instances pointing at them directly in PostgreSQL, starts the API as a
child process with the given poll interval, and reports for a healthy phase and then a
phase with P% of the agents black-holed (they accept and never answer):
  - polls per second and the age of each instance's state when it is refreshed
    (p50/p99/max staleness, from the API's own metrics),
  - the API process's CPU (cores) and RSS,
  - GET /api/admin/instances?limit=50 latency while polling,
  - the API's event-loop delay p99 and max (perf_hooks.monitorEventLoopDelay through its
    /metrics; 10 ms resolution, so an idle loop reads about 10 ms).
Target: 10,000 agents every 10 s with staleness p99 under 15 s and the API under one core;
black-holed agents must not raise healthy agents' staleness.
Traffic stays on 127.0.0.1; every phase is bounded by --duration-s. Human-readable lines
come first; the last line of the output is one JSON object with every figure (maps keyed
by phase: healthy, blackholed; an age bucket of +Inf or no data is null).

Options:
  --agents <n>              fake agents (default 10000)
  --interval-ms <ms>        poll interval (default 10000)
  --duration-s <s>          length of each phase after warm-up (default 40)
  --blackhole-percent <p>   share of agents that hang in the second phase (default 30)
  --database-url <url>      an empty PostgreSQL database for the API (required; it is filled)
  --cpu-prof-dir <dir>      write a V8 CPU profile of the API (node --cpu-prof) into DIR when it stops
  -h, --help                show this help
`;

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(help);
  process.exit(0);
}
const agentCount = Number(option(args, '--agents') ?? 10_000);
const intervalMs = Number(option(args, '--interval-ms') ?? 10_000);
const durationS = Number(option(args, '--duration-s') ?? 40);
const blackholePercent = Number(option(args, '--blackhole-percent') ?? 30);
const databaseUrl = option(args, '--database-url');
const cpuProfDir = option(args, '--cpu-prof-dir');
if (!databaseUrl) {
  process.stderr.write(`--database-url is required\n\n${help}`);
  process.exit(2);
}

interface Histogram {
  buckets: Array<[number, number]>;
  count: number;
  sum: number;
}

function histogram(metrics: string, name: string): Histogram {
  const buckets: Array<[number, number]> = [];
  let count = 0;
  let sum = 0;
  for (const line of metrics.split('\n')) {
    const b = new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\d+)`).exec(line);
    if (b) buckets.push([b[1] === '+Inf' ? Infinity : Number(b[1]), Number(b[2])]);
    const c = new RegExp(`^${name}_count (\\d+)`).exec(line);
    if (c) count = Number(c[1]);
    const s = new RegExp(`^${name}_sum ([\\d.e+-]+)`).exec(line);
    if (s) sum = Number(s[1]);
  }
  return { buckets, count, sum };
}

/** Upper bound of the bucket holding quantile q of the observations between two scrapes. */
function quantile(before: Histogram, after: Histogram, q: number): number {
  const total = after.count - before.count;
  if (total <= 0) return NaN;
  for (let i = 0; i < after.buckets.length; i += 1) {
    const [le, n] = after.buckets[i] as [number, number];
    const prev = before.buckets[i]?.[1] ?? 0;
    if (n - prev >= q * total) return le;
  }
  return Infinity;
}

function rssMb(pid: number): number {
  const line =
    readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:')) ?? '';
  return Number(/(\d+)/.exec(line)?.[1] ?? 0) / 1024;
}

const encryptionKey = randomBytes(32).toString('base64url');
const metricsToken = randomBytes(16).toString('hex');
const fakes = await startFakeAgents();
const agents = Array.from({ length: agentCount }, () => fakes.add());
process.stdout.write(`${agentCount} fake agents at ${fakes.url}\n`);

const server = await startBenchServer(
  databaseUrl,
  {
    ENCRYPTION_KEY: encryptionKey,
    METRICS_TOKEN: metricsToken,
    PROVISIONER: 'static',
    PANEL_AGENTS_POLL_INTERVAL_MS: String(intervalMs),
  },
  cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [],
);
const db = new pg.Client({ connectionString: databaseUrl });
await db.connect();
try {
  await recordBenchInstances(db, encryptionKey, agents);
  process.stdout.write(`${agentCount} active instances recorded; polling every ${intervalMs} ms\n`);

  const scrape = async () => (await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${metricsToken}` } })).text();
  const polls = (m: string) => [...m.matchAll(/^panel_agent_polls_total\{outcome="([^"]+)"\} (\d+)/gm)].reduce((acc, x) => acc + Number(x[2]), 0);

  // prom-client's event-loop figures come from perf_hooks.monitorEventLoopDelay (10 ms resolution,
  // so an idle loop reads about 10 ms) and restart at every scrape: the end-of-phase scrape covers the phase.
  const gauge = (m: string, name: string) => Number(new RegExp(`^${name} ([\\d.e+-]+)`, 'm').exec(m)?.[1] ?? NaN) * 1000;
  type Figures = Record<'polls_per_s' | 'age_p50_s' | 'age_p99_s' | 'api_cores' | 'rss_mib' | 'list_p50_ms' | 'list_p99_ms' | 'loop_delay_p99_ms' | 'loop_delay_max_ms', number>;
  const phase = async (name: string): Promise<Figures> => {
    // Warm-up: two intervals, so every instance has been polled in this phase's conditions.
    await new Promise((r) => setTimeout(r, intervalMs * 2));
    const m0 = await scrape();
    const cpu0 = cpuSeconds(server.pid);
    const t0 = performance.now();
    const listLatencies: number[] = [];
    const end = Date.now() + durationS * 1000;
    while (Date.now() < end) {
      const s = performance.now();
      const res = await fetch(`${server.url}/api/admin/instances?limit=50`, { headers: { Authorization: `Bearer ${server.adminToken}` } });
      await res.arrayBuffer();
      listLatencies.push(performance.now() - s);
      await new Promise((r) => setTimeout(r, 250));
    }
    const seconds = (performance.now() - t0) / 1000;
    const m1 = await scrape();
    const cores = (cpuSeconds(server.pid) - cpu0) / seconds;
    const age0 = histogram(m0, 'panel_agent_state_age_seconds');
    const age1 = histogram(m1, 'panel_agent_state_age_seconds');
    listLatencies.sort((a, b) => a - b);
    const f: Figures = {
      polls_per_s: Math.round((polls(m1) - polls(m0)) / seconds),
      age_p50_s: quantile(age0, age1, 0.5),
      age_p99_s: quantile(age0, age1, 0.99),
      api_cores: Number(cores.toFixed(2)),
      rss_mib: Math.round(rssMb(server.pid)),
      list_p50_ms: Number(percentile(listLatencies, 50).toFixed(1)),
      list_p99_ms: Number(percentile(listLatencies, 99).toFixed(1)),
      loop_delay_p99_ms: Number(gauge(m1, 'nodejs_eventloop_lag_p99_seconds').toFixed(1)),
      loop_delay_max_ms: Number(gauge(m1, 'nodejs_eventloop_lag_max_seconds').toFixed(1)),
    };
    process.stdout.write(
      `${name.padEnd(22)} ${String(f.polls_per_s).padStart(8)} ${String(f.age_p50_s).padStart(9)} ${String(f.age_p99_s).padStart(9)} ` +
        `${f.api_cores.toFixed(2).padStart(9)} ${String(f.rss_mib).padStart(8)} ${f.list_p50_ms.toFixed(1).padStart(10)} ${f.list_p99_ms.toFixed(1).padStart(10)} ${f.loop_delay_p99_ms.toFixed(1).padStart(10)} ${f.loop_delay_max_ms.toFixed(1).padStart(10)}\n`,
    );
    return f;
  };

  process.stdout.write('\nphase                   polls/s  age p50 s  age p99 s  API cores  RSS MiB  list p50 ms  list p99 ms  loop p99 ms  loop max ms\n');
  const healthy = await phase('all healthy');
  const holed = Math.floor((agentCount * blackholePercent) / 100);
  for (const agent of agents.slice(0, holed)) fakes.setFault(agent.id, { mode: 'hang' });
  const blackholed = await phase(`${blackholePercent}% black-holed`);
  process.stdout.write("\n(age = how old an instance's last good state was when a successful poll refreshed it; healthy agents only)\n");
  const byPhase = Object.fromEntries(Object.keys(healthy).map((k) => [k, { healthy: healthy[k as keyof Figures], blackholed: blackholed[k as keyof Figures] }]));
  // JSON has no Infinity or NaN; JSON.stringify writes them as null.
  process.stdout.write(`${JSON.stringify({ bench: 'poller', agents: agentCount, interval_ms: intervalMs, duration_s: durationS, blackhole_percent: blackholePercent, ...byPhase })}\n`);
} finally {
  await db.end();
  // Awaited: the API writes its CPU profile (--cpu-prof-dir) only as it exits.
  await server.stop();
  await fakes.close();
}
process.exit(0);
