import { option, percentile, post, startBenchServer, type BenchServer } from './lib/bench-server.ts';

const help = `Usage: npm run bench:login -- [--levels 1,2,4,8,16,32,64] [--requests-per-level N] [--database-url URL]

Measures sign-in latency at the configured argon2id settings. Starts the real server as a
child process (embedded database in a temporary directory, or --database-url), creates a
user, then for each concurrency level fires logins with that many in flight and reports
p50/p95/p99 latency, throughput, and the p99 of GET /healthz measured during the load
(to show hashing does not starve the event loop). Ends with the highest level whose login
p99 stays under one second, then one line of JSON with every figure (maps keyed by level).
Traffic goes to 127.0.0.1 only; every loop is bounded.

Options:
  --levels <list>             concurrency levels (default 1,2,4,8,16,32,64)
  --requests-per-level <n>    logins per level (default: max(40, 4 x level))
  --database-url <url>        run against a PostgreSQL server instead of embedded PGlite
  -h, --help                  show this help
`;

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(help);
  process.exit(0);
}
const levels = (option(args, '--levels') ?? '1,2,4,8,16,32,64')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const perLevel = option(args, '--requests-per-level');
const databaseUrl = option(args, '--database-url');

async function main(server: BenchServer): Promise<void> {
  const base = server.url;
  const created = await post(`${base}/api/admin/users`, { username: 'bench', email: 'bench@example.com', password: 'bench-password-1' }, server.adminToken);
  if (created.status !== 201) throw new Error(`could not create the bench user: ${created.status}`);
  process.stdout.write(`login latency, argon2id at the shipped settings (${databaseUrl ? 'PostgreSQL' : 'PGlite'})\n`);
  process.stdout.write('concurrency  requests  p50 ms  p95 ms  p99 ms  logins/s  healthz p99 ms  errors\n');
  let best = 0;
  const figures = { p50: {}, p95: {}, p99: {}, rate: {}, health: {}, errors: {} } as Record<'p50' | 'p95' | 'p99' | 'rate' | 'health' | 'errors', Record<string, number>>;
  for (const level of levels) {
    const total = perLevel ? Number(perLevel) : Math.max(40, level * 4);
    const latencies: number[] = [];
    const health: number[] = [];
    let errors = 0;
    let next = 0;
    let running = true;
    const healthProbe = (async () => {
      while (running) {
        const t0 = performance.now();
        await fetch(`${base}/healthz`).then((r) => r.arrayBuffer());
        health.push(performance.now() - t0);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const started = performance.now();
    await Promise.all(
      Array.from({ length: level }, async () => {
        while (next < total) {
          next += 1;
          const t0 = performance.now();
          const res = await post(`${base}/api/auth/login`, { login: 'bench', password: 'bench-password-1' });
          await res.arrayBuffer();
          latencies.push(performance.now() - t0);
          if (res.status !== 200) errors += 1;
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    running = false;
    await healthProbe;
    latencies.sort((a, b) => a - b);
    health.sort((a, b) => a - b);
    const p99 = percentile(latencies, 99);
    if (p99 < 1000 && errors === 0) best = level;
    const at = String(level);
    figures.p50[at] = Math.round(percentile(latencies, 50));
    figures.p95[at] = Math.round(percentile(latencies, 95));
    figures.p99[at] = Math.round(p99);
    figures.rate[at] = Number((total / seconds).toFixed(1));
    figures.health[at] = Number(percentile(health, 99).toFixed(1));
    figures.errors[at] = errors;
    process.stdout.write(
      `${String(level).padStart(11)}  ${String(total).padStart(8)}  ${percentile(latencies, 50).toFixed(0).padStart(6)}  ${percentile(latencies, 95).toFixed(0).padStart(6)}  ${p99.toFixed(0).padStart(6)}  ${(total / seconds).toFixed(1).padStart(8)}  ${percentile(health, 99).toFixed(1).padStart(14)}  ${String(errors).padStart(6)}\n`,
    );
  }
  process.stdout.write(`highest concurrency with login p99 under 1 s: ${best}\n`);
  const line = {
    bench: 'login',
    engine: databaseUrl ? 'postgres' : 'pglite',
    login_p50_ms: figures.p50,
    login_p95_ms: figures.p95,
    login_p99_ms: figures.p99,
    logins_per_s: figures.rate,
    healthz_p99_ms: figures.health,
    errors: figures.errors,
    max_concurrency_p99_under_1s: best,
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

const server = await startBenchServer(databaseUrl);
// The server is stopped (and waited for) before exiting: process.exit right after a stop that was
// not awaited could leave the server's process running.
let exitCode = 0;
try {
  await main(server);
} catch (err) {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  exitCode = 1;
} finally {
  await server.stop();
}
process.exit(exitCode);
