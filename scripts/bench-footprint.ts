import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { option } from './lib/bench-server.ts';
import { measureStart, type StartFigures } from './lib/footprint-run.ts';
import { createScratchDatabase } from './lib/scratch-database.ts';

const help = `Usage: npm run bench:footprint -- [--runs N] [--idle-s S] [--database-url URL] [--engines pglite,postgres]

Measures what one API process costs to start and to keep: for each engine it runs the production
start (\`npm start\`, as an operator would) N times on a fresh store (creating and migrating it),
each followed by a restart on the same store, and for both measures
  - boot: wall time from spawning \`npm start\` to the first 200 on GET /healthz (polled every 20 ms);
  - idle RSS: after S seconds of idling, VmRSS from /proc/<pid>/status of the server process and
    its children (npm and the shell it starts are left out), with the V8 heap and external memory
    (WebAssembly included) the server reports on /metrics at the same moment;
  - boot CPU: user + system time of the server tree until /healthz (steadier than wall time
    on a busy machine).
Engines:
  - pglite: the embedded default, DATA_DIR a fresh temporary directory (removed afterwards);
  - postgres: a fresh database created on the server --database-url names and dropped afterwards.
It builds dist/ first (npm run build) so no run pays for a build, then reports per engine the
median and max of each figure, for first starts and restarts apart, against the goals (issue 19): idle RSS under 300 MiB embedded and
under 150 MiB on PostgreSQL, boot under 2 s on both; met or missed.
Progress goes to stdout; the last line is one JSON object with every figure.

Options:
  --runs <n>            starts per engine (default 3)
  --idle-s <s>          idle time before memory is read (default 10)
  --database-url <url>  a PostgreSQL server whose user may CREATE DATABASE
                        (default postgres://postgres@127.0.0.1:5432/postgres)
  --engines <list>      which engines, comma-separated (default pglite,postgres)
  -h, --help            show this help
`;

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(help);
  process.exit(0);
}
const runs = Number(option(args, '--runs') ?? 3);
const idleS = Number(option(args, '--idle-s') ?? 10);
const serverUrl = option(args, '--database-url') ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const engines = (option(args, '--engines') ?? 'pglite,postgres').split(',');
if (!(runs >= 1) || !(idleS >= 0) || engines.some((e) => e !== 'pglite' && e !== 'postgres')) {
  process.stderr.write(`needs --runs >= 1, --idle-s >= 0, --engines of pglite and/or postgres\n\n${help}`);
  process.exit(2);
}

type Engine = 'pglite' | 'postgres';
const goals: Record<Engine, { idle_rss_mib: number; boot_ms: number }> = {
  pglite: { idle_rss_mib: 300, boot_ms: 2_000 },
  postgres: { idle_rss_mib: 150, boot_ms: 2_000 },
};

const log = (line: string): void => void process.stdout.write(`${line}\n`);
const root = fileURLToPath(new URL('../', import.meta.url));

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : Math.round((((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2) * 10) / 10;
}

type Kind = 'first' | 'restart';
const kinds: Kind[] = ['first', 'restart'];

/** A start on a fresh store (creating and migrating it), then a restart on the same store. */
async function twoStarts(engine: Engine): Promise<Record<Kind, StartFigures>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'panel-footprint-'));
  const db = engine === 'postgres' ? await createScratchDatabase(serverUrl, 'panel_footprint') : null;
  const start = (): Promise<StartFigures> => measureStart({ env: { DATA_DIR: dataDir, DATABASE_URL: db?.url ?? '' }, idleMs: idleS * 1000, timeoutMs: 120_000, log });
  try {
    log('  first start, on a fresh store');
    const first = await start();
    log(`  idle RSS ${first.idle_rss_mib} MiB`);
    log('  restart, on the same store');
    return { first, restart: await start() };
  } finally {
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// A build now, so the runs measure starting the server and not compiling it; scripts without one skip it.
const pkg = JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(join(root, 'package.json'), 'utf8'))) as { scripts: Record<string, string> };
if (pkg.scripts.build) {
  log('building dist/ (npm run build)');
  const built = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
  if (built.status !== 0) process.exit(1);
}

const report: Record<string, unknown> = { bench: 'footprint', runs, idle_s: idleS, start_script: pkg.scripts.start };
let allMet = true;
const round = (n: number): number => Math.round(n * 10) / 10;
const say = (met: boolean, value: number, limit: number, unit: string): string => (met ? 'met' : `missed by ${round(value - limit)} ${unit}`);
for (const engine of engines as Engine[]) {
  const figures: Record<Kind, StartFigures[]> = { first: [], restart: [] };
  for (let i = 1; i <= runs; i += 1) {
    log(`${engine}: run ${i}/${runs}`);
    const pair = await twoStarts(engine);
    for (const kind of kinds) {
      const run = pair[kind];
      for (const p of run.processes) log(`    ${kind}: pid ${p.pid} ${p.rss_mib} MiB (anon ${p.anon_mib}, file ${p.file_mib}): ${p.command.slice(0, 100)}`);
      log(
        `  ${kind}: boot ${run.boot_ms} ms (${run.boot_cpu_ms} ms CPU), idle RSS ${run.idle_rss_mib} MiB (heap used ${run.heap_used_mib} of ${run.heap_total_mib} MiB, external ${run.external_mib} MiB)`,
      );
      figures[kind].push(run);
    }
  }
  const goal = goals[engine];
  const out: Record<string, unknown> = {};
  for (const kind of kinds) {
    const boot = figures[kind].map((f) => f.boot_ms);
    const cpu = figures[kind].map((f) => f.boot_cpu_ms);
    const rss = figures[kind].map((f) => f.idle_rss_mib);
    const bootMet = Math.max(...boot) < goal.boot_ms;
    const rssMet = Math.max(...rss) < goal.idle_rss_mib;
    allMet &&= bootMet && rssMet;
    log(
      `${engine} ${kind}: boot median ${median(boot)} ms, max ${Math.max(...boot)} ms (goal < ${goal.boot_ms} ms: ${say(bootMet, Math.max(...boot), goal.boot_ms, 'ms')}); CPU median ${median(cpu)} ms`,
    );
    log(`${engine} ${kind}: idle RSS median ${median(rss)} MiB, max ${Math.max(...rss)} MiB (goal < ${goal.idle_rss_mib} MiB: ${say(rssMet, Math.max(...rss), goal.idle_rss_mib, 'MiB')})`);
    out[kind] = {
      boot_ms: { median: median(boot), max: Math.max(...boot), goal: goal.boot_ms, met: bootMet },
      boot_cpu_ms: { median: median(cpu), max: Math.max(...cpu) },
      idle_rss_mib: { median: median(rss), max: Math.max(...rss), goal: goal.idle_rss_mib, met: rssMet },
      heap_used_mib: median(figures[kind].map((f) => f.heap_used_mib ?? 0)),
      external_mib: median(figures[kind].map((f) => f.external_mib ?? 0)),
      runs: figures[kind].map((f) => ({ boot_ms: f.boot_ms, boot_cpu_ms: f.boot_cpu_ms, idle_rss_mib: f.idle_rss_mib, anon_mib: round(f.processes.reduce((s, p) => s + p.anon_mib, 0)) })),
    };
  }
  report[engine] = out;
}
report.all_goals_met = allMet;
log(JSON.stringify(report));
