import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runBench, type BenchOutcome } from './lib/bench-child.ts';
import { option } from './lib/bench-server.ts';
import { summaryTable } from './lib/bench-summary.ts';

const help = `Usage: npm run bench -- [--only a,b] [--quick] [--database-url URL] [--timeout-s S]

Runs every benchmark (scripts/bench-*.ts: ide-proxy, login, poller, reset, streams, takeover, vnc,
vnc-replicas) one
after another, each as a child process with its output passed through, and collects the JSON
line each one ends with. At the end it prints a summary table (one row per figure) and then
one line of JSON: {"bench":"all","quick":...,"results":{"<name>":{...its figures...}},"seconds":{...}}.
A bench that fails (exit code other than 0, a signal, no JSON line, the timeout) is reported
in results as {"failed":..., "exit_code":..., "stderr_tail":...}; the others still run, and
the exit code is then 1. bench:poller needs an empty PostgreSQL database, bench:takeover and
bench:vnc-replicas a PostgreSQL server they may create a scratch database on (the same URL serves all): without
--database-url they are reported as {"skipped": ...}. Without /usr/bin/Xvnc, bench:vnc runs
with --no-desktop.

Options:
  --only <list>          run only these benches, comma-separated (e.g. ide-proxy,streams)
  --quick                small sizes for each bench so the whole run takes a few minutes:
                           ide-proxy --duration-s 3 --ws-messages 500
                           login     --levels 1,4,16 --requests-per-level 32
                           poller    --agents 1000 --interval-ms 2000 --duration-s 6
                           reset     --rounds 50
                           streams   --size-mib 256
                           takeover  --agents 600 --poll-interval-ms 2000
                           vnc       --size-mib 256 --rounds 1 --rtt-samples 300 --viewers 5 --samples 50
                                     --connections 3
                           vnc-replicas --size-mib 256 --rounds 3 --rtt-samples 300
  --database-url <url>   an empty PostgreSQL database for bench:poller (it is filled; bench:takeover
                         and bench:vnc-replicas create and drop scratch databases beside it)
  --timeout-s <s>        stop a bench still running after this long (default 1800, 600 with --quick)
  -h, --help             show this help
`;

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(help);
  process.exit(0);
}
const quick = args.includes('--quick');
const databaseUrl = option(args, '--database-url');
const timeoutS = Number(option(args, '--timeout-s') ?? (quick ? 600 : 1800));
const scripts = fileURLToPath(new URL('./', import.meta.url));
const all = readdirSync(scripts)
  .map((f) => /^bench-(.+)\.ts$/.exec(f)?.[1])
  .filter((n): n is string => n !== undefined)
  .sort();
const only = option(args, '--only')
  ?.split(',')
  .map((n) => n.trim())
  .filter(Boolean);
const unknown = (only ?? []).filter((n) => !all.includes(n));
if (unknown.length > 0 || !(timeoutS > 0)) {
  process.stderr.write(`${unknown.length > 0 ? `no such bench: ${unknown.join(', ')} (there are ${all.join(', ')})` : '--timeout-s must be a number above 0'}\n\n${help}`);
  process.exit(2);
}
const chosen = only ? all.filter((n) => only.includes(n)) : all;

const quickArgs: Record<string, string[]> = {
  'ide-proxy': ['--duration-s', '3', '--ws-messages', '500'],
  login: ['--levels', '1,4,16', '--requests-per-level', '32'],
  poller: ['--agents', '1000', '--interval-ms', '2000', '--duration-s', '6'],
  reset: ['--rounds', '50'],
  streams: ['--size-mib', '256'],
  takeover: ['--agents', '600', '--poll-interval-ms', '2000'],
  vnc: ['--size-mib', '256', '--rounds', '1', '--rtt-samples', '300', '--viewers', '5', '--samples', '50', '--connections', '3'],
  'vnc-replicas': ['--size-mib', '256', '--rounds', '3', '--rtt-samples', '300'],
};

/** The arguments for one bench, or why it cannot run here. */
function benchArgs(name: string): string[] | { skipped: string } {
  const extra = quick ? (quickArgs[name] ?? []) : [];
  if (name === 'poller') return databaseUrl ? [...extra, '--database-url', databaseUrl] : { skipped: 'needs an empty PostgreSQL database: pass --database-url' };
  if (name === 'takeover' || name === 'vnc-replicas') return databaseUrl ? [...extra, '--database-url', databaseUrl] : { skipped: 'needs a PostgreSQL server: pass --database-url' };
  if (name === 'vnc' && !existsSync('/usr/bin/Xvnc')) return [...extra, '--no-desktop'];
  return extra;
}

let stopCurrent: (() => void) | null = null;
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    // The running bench leads its own process group: pass the signal on and stop after it.
    interrupted = true;
    process.stderr.write(`${signal}: stopping the running bench\n`);
    stopCurrent?.();
  });
}

const results: Record<string, Record<string, unknown>> = {};
const seconds: Record<string, number> = {};
const failures: string[] = [];
for (const name of chosen) {
  if (interrupted) break;
  const benchArgv = benchArgs(name);
  if (!Array.isArray(benchArgv)) {
    process.stdout.write(`\n== bench:${name}: skipped (${benchArgv.skipped})\n`);
    results[name] = benchArgv;
    continue;
  }
  process.stdout.write(`\n== bench:${name} ${benchArgv.join(' ')}\n`);
  const outcome: BenchOutcome = await runBench(name, benchArgv, timeoutS, (stop) => (stopCurrent = stop));
  stopCurrent = null;
  seconds[name] = outcome.seconds;
  if (outcome.ok) {
    results[name] = outcome.figures;
  } else {
    failures.push(`bench:${name} failed: ${outcome.reason}\n${outcome.stderrTail.replace(/^/gm, '  ')}`);
    results[name] = { failed: outcome.reason, exit_code: outcome.exitCode, signal: outcome.signal, stderr_tail: outcome.stderrTail };
  }
}

process.stdout.write(`\n== summary${quick ? ' (--quick sizes)' : ''}${interrupted ? ' (interrupted)' : ''}\n\n${summaryTable(results)}\n\n`);
for (const failure of failures) process.stdout.write(`${failure}\n\n`);
process.stdout.write(`${JSON.stringify({ bench: 'all', quick, results, seconds })}\n`);
process.exit(failures.length > 0 || interrupted ? 1 : 0);
