import { option, percentile, startBenchServer } from './lib/bench-server.ts';
import { benchCleanups } from './lib/bench-cleanups.ts';
import { issueAgentKey, login, runningSession, vncBenchRateLimits, viewerUrl } from './lib/bench-vnc-api.ts';
import { startSimAgentProcess } from './lib/bench-vnc-processes.ts';
import { benchRoundTrips } from './lib/bench-vnc-rtt.ts';
import { openViewer } from './lib/bench-vnc-throughput.ts';
import { webSocketTransport } from './lib/rfb-transport.ts';
import { createScratchDatabase } from './lib/scratch-database.ts';
import { cpuSeconds } from './lib/proc-cpu.ts';

const help = `Usage: npm run bench:vnc-replicas -- --database-url URL [--size-mib N] [--rounds N] [--rtt-samples N]

Measures a StreamSpace VNC viewer relayed across replicas against one on the replica that holds
the agent's socket. Creates a scratch database on the PostgreSQL server --database-url names
(dropped at the end; the embedded database serves one process, so two replicas need
PostgreSQL), starts two API replicas on it as child processes (A and B, npm start's node flags)
and two simulated agents as processes of their own, connected to A: one in pattern mode (its
VNC servers stream as fast as they are read), one in echo mode. Then, on one pattern session
and one echo session:
  1. throughput: after a 64 MiB warm-up on each path, --rounds rounds (default 5) of N MiB
     (default 512) read by a viewer on A (same replica: viewer -> A -> agent) and by a viewer
     on B (cross-replica: viewer -> B -> internal relay -> A -> agent), taking turns; MB/s of
     the median round, and cross / same (goal: at least 0.70); CPU seconds per GiB of each
     process (A, B, the pattern agent, the bench as reader) on each path, over all rounds;
  2. round trip: 64-byte messages echoed one at a time over both paths taking turns,
     --rtt-samples each (default 2000) after 1000 unmeasured: p50 and p99, and what the extra
     hop adds to the p99.
All traffic stays on 127.0.0.1. The last line of the output is one JSON object with every figure.
The replicas, agents and scratch database are removed at the end, also after a failure or Ctrl-C.

Options:
  --database-url <url>  a PostgreSQL server (any database on it) whose user may CREATE DATABASE (required)
  --size-mib <n>        MiB read per throughput round (default 512)
  --rounds <n>          throughput rounds per path (default 5)
  --rtt-samples <n>     round trips per path (default 2000)
  -h, --help            show this help
`;

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(help);
  process.exit(0);
}
const serverUrl = option(args, '--database-url');
const sizeMiB = Number(option(args, '--size-mib') ?? 512);
const rounds = Number(option(args, '--rounds') ?? 5);
const rttSamples = Number(option(args, '--rtt-samples') ?? 2000);
if (!serverUrl || !(sizeMiB > 0) || !Number.isInteger(rounds) || rounds < 1 || !Number.isInteger(rttSamples) || rttSamples < 1) {
  process.stderr.write(`${serverUrl ? '--size-mib, --rounds and --rtt-samples must be numbers above 0' : '--database-url is required: two replicas need PostgreSQL'}\n\n${help}`);
  process.exit(2);
}

type Path = 'same' | 'cross';
const say = (line: string): boolean => process.stdout.write(`${line}\n`);
const cleanups = benchCleanups();

try {
  const scratch = await createScratchDatabase(serverUrl, 'panel_vnc_replicas');
  cleanups.push(() => scratch.drop());
  const env = { PANEL_RATE_LIMITS: vncBenchRateLimits, LOG_LEVEL: 'warn' };
  const a = await startBenchServer(scratch.url, env);
  cleanups.push(() => a.stop());
  const b = await startBenchServer(scratch.url, env);
  cleanups.push(() => b.stop());
  const token = await login(a.url, 'admin', 'bench-admin-password');
  const agents = [];
  for (const mode of ['pattern', 'echo'] as const) {
    const agentId = `bench-${mode}-agent`;
    const agent = await startSimAgentProcess({ url: a.url, agentId, key: await issueAgentKey(a.url, token, agentId), mode, region: `bench-${mode}`, maxSessions: 2 });
    cleanups.push(() => agent.stop());
    agents.push(agent);
  }
  const patternId = await runningSession(a.url, token, { template: 'firefox-browser', region: 'bench-pattern' });
  const echoId = await runningSession(a.url, token, { template: 'firefox-browser', region: 'bench-echo' });
  say(`replica A ${a.url} holds the agents; replica B ${b.url} relays to it`);

  const read = async (url: string, bytes: number): Promise<number> => await (await openViewer(url, patternId, token, true, bytes)).seconds;
  const bytes = sizeMiB * 1024 * 1024;
  for (const url of [a.url, b.url]) await read(url, 64 * 1024 * 1024);
  const seconds: Record<Path, number[]> = { same: [], cross: [] };
  // CPU per process per path: what the extra hop costs, and on which replica it lands.
  const pids = { api_a: a.pid, api_b: b.pid, agent: agents[0]?.pid ?? 0, viewer: process.pid };
  const names = Object.keys(pids) as Array<keyof typeof pids>;
  const cpu: Record<Path, Record<keyof typeof pids, number>> = { same: { api_a: 0, api_b: 0, agent: 0, viewer: 0 }, cross: { api_a: 0, api_b: 0, agent: 0, viewer: 0 } };
  const timed = async (path: Path, url: string): Promise<void> => {
    const before = names.map((n) => cpuSeconds(pids[n]));
    seconds[path].push(await read(url, bytes));
    names.forEach((n, i) => (cpu[path][n] += cpuSeconds(pids[n]) - (before[i] as number)));
  };
  for (let round = 1; round <= rounds; round += 1) {
    await timed('same', a.url);
    await timed('cross', b.url);
    say(
      `round ${round}: same replica ${((sizeMiB * 1.048576) / (seconds.same.at(-1) as number)).toFixed(0)} MB/s, cross-replica ${((sizeMiB * 1.048576) / (seconds.cross.at(-1) as number)).toFixed(0)} MB/s`,
    );
  }
  const gib = (rounds * sizeMiB) / 1024;
  const perGib = (c: Record<keyof typeof pids, number>): Record<keyof typeof pids, number> =>
    Object.fromEntries(names.map((n) => [n, Math.round((c[n] / gib) * 100) / 100])) as Record<keyof typeof pids, number>;
  const cpuPerGib = { same: perGib(cpu.same), cross: perGib(cpu.cross) };
  const mbps = (s: number[]): number =>
    Math.round(
      (sizeMiB * 1.048576) /
        percentile(
          [...s].sort((x, y) => x - y),
          50,
        ),
    );
  const same = mbps(seconds.same);
  const cross = mbps(seconds.cross);
  const ratio = Math.round((cross / same) * 100) / 100;
  say(`throughput (${sizeMiB} MiB, median of ${rounds}): same replica ${same} MB/s, cross-replica ${cross} MB/s: ${ratio}x (goal >= 0.70: ${ratio >= 0.7 ? 'met' : 'missed'})`);
  const cpuLine = (c: Record<string, number>): string =>
    Object.entries(c)
      .map(([k, v]) => `${k} ${v}`)
      .join(' + ');
  say(`  CPU s per GiB: same replica ${cpuLine(cpuPerGib.same)}; cross-replica ${cpuLine(cpuPerGib.cross)}`);

  const rtt = await benchRoundTrips(
    {
      same: { describe: 'viewer -> A -> agent -> echo server', open: () => webSocketTransport(viewerUrl(a.url, echoId, token)) },
      cross: { describe: 'viewer -> B -> relay -> A -> agent -> echo server', open: () => webSocketTransport(viewerUrl(b.url, echoId, token)) },
    },
    rttSamples,
    1000,
  );
  const r = rtt.rtt_ms;
  const added = { p50: Math.round(((r.cross?.p50 ?? NaN) - (r.same?.p50 ?? NaN)) * 1000) / 1000, p99: Math.round(((r.cross?.p99 ?? NaN) - (r.same?.p99 ?? NaN)) * 1000) / 1000 };
  say(
    `round trip (64 B, ${rttSamples} samples) p50/p99 ms: same replica ${r.same?.p50}/${r.same?.p99}, cross-replica ${r.cross?.p50}/${r.cross?.p99}; the extra hop adds p50 ${added.p50} ms, p99 ${added.p99} ms`,
  );
  say(
    JSON.stringify({
      bench: 'vnc-replicas',
      size_mib: sizeMiB,
      rounds,
      same_mb_s: same,
      cross_mb_s: cross,
      cross_vs_same: ratio,
      goal_met: ratio >= 0.7,
      cpu_s_per_gib: cpuPerGib,
      rtt_ms: r,
      added_ms: added,
      samples: rttSamples,
    }),
  );
} catch (err) {
  process.exitCode = 1;
  if (!cleanups.interrupted) process.stderr.write(`bench:vnc-replicas failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
} finally {
  await cleanups.run();
}
