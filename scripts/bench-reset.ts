import { option, percentile, post, startBenchServer } from './lib/bench-server.ts';

const help = `Usage: npm run bench:reset -- [--rounds N] [--database-url URL]

Checks that POST /api/auth/password-reset answers known and unknown emails alike. Starts
the real server as a child process, creates an account, then alternates requests for its
email and for addresses no account uses, and reports the status, body and latency
distribution of each kind, then one line of JSON with those figures. Traffic goes to
127.0.0.1 only; the loop is bounded.

Options:
  --rounds <n>            requests of each kind (default 200)
  --database-url <url>    run against a PostgreSQL server instead of embedded PGlite
  -h, --help              show this help
`;

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(help);
  process.exit(0);
}
const rounds = Number(option(args, '--rounds') ?? '200');
const server = await startBenchServer(option(args, '--database-url'));
try {
  const created = await post(`${server.url}/api/admin/users`, { username: 'resetme', email: 'resetme@example.com', password: 'reset-password-1' }, server.adminToken);
  if (created.status !== 201) throw new Error(`could not create the account: ${created.status}`);
  const timings: Record<'known' | 'unknown', number[]> = { known: [], unknown: [] };
  const bodies = new Set<string>();
  for (let i = 0; i < rounds * 2; i += 1) {
    const kind = i % 2 === 0 ? 'known' : 'unknown';
    const email = kind === 'known' ? 'resetme@example.com' : `nobody-${i}@example.com`;
    const t0 = performance.now();
    const res = await post(`${server.url}/api/auth/password-reset`, { email });
    bodies.add(`${res.status} ${await res.text()}`);
    timings[kind].push(performance.now() - t0);
  }
  process.stdout.write(`distinct status+body pairs across both kinds: ${bodies.size}\n`);
  process.stdout.write('kind      p50 ms  p90 ms  p99 ms\n');
  const figures = { p50_ms: {}, p90_ms: {}, p99_ms: {} } as Record<'p50_ms' | 'p90_ms' | 'p99_ms', Record<string, number>>;
  for (const kind of ['known', 'unknown'] as const) {
    const sorted = timings[kind].sort((a, b) => a - b);
    const [p50, p90, p99] = [50, 90, 99].map((p) => percentile(sorted, p)) as [number, number, number];
    process.stdout.write(`${kind.padEnd(8)}  ${p50.toFixed(2).padStart(6)}  ${p90.toFixed(2).padStart(6)}  ${p99.toFixed(2).padStart(6)}\n`);
    figures.p50_ms[kind] = Number(p50.toFixed(2));
    figures.p90_ms[kind] = Number(p90.toFixed(2));
    figures.p99_ms[kind] = Number(p99.toFixed(2));
  }
  // One status and body for both kinds is the point: more than one would tell the kinds apart.
  process.stdout.write(`${JSON.stringify({ bench: 'reset', rounds, distinct_answers: bodies.size, ...figures })}\n`);
} finally {
  await server.stop();
}
