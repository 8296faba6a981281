import { option, startBenchServer } from './lib/bench-server.ts';
import { benchCleanups } from './lib/bench-cleanups.ts';
import { issueAgentKey, login, runningSession, vncBenchRateLimits, vncPortOf } from './lib/bench-vnc-api.ts';
import { benchDesktop, type DesktopFigures } from './lib/bench-vnc-desktop.ts';
import { benchStalledMemory, benchThroughput } from './lib/bench-vnc-throughput.ts';
import { benchEchoRoundTrips } from './lib/bench-vnc-echo.ts';
import { startSimAgentProcess } from './lib/bench-vnc-processes.ts';

const help = `Usage: npm run bench:vnc -- [--size-mib N] [--rounds N] [--rtt-samples N] [--viewers N] [--samples N] [--connections N] [--no-desktop] [--cpu-prof-dir DIR]

Measures the StreamSpace VNC relay. Starts the API (embedded database) as a child process
and two simulated agents (npm run streamspace-agent, each its own process, as agents run in
production): one in pattern mode (its VNC servers stream bytes as fast as they
are read) and one in echo mode (its VNC servers echo what they get). Then:
  1. memory: opens --viewers viewers (default 20) on their own pattern sessions that never
     read, waits 3 s, and reports the API's RSS growth: each stream may hold at most its
     1 MiB credit, so the growth stays bounded however long they stall;
  2. throughput: after a 64 MiB warm-up on each path, --rounds rounds (default 3) of N MiB
     (default 1024) read from a pattern session's VNC server over raw TCP, through a plain
     WebSocket-to-TCP bridge written in the bench, run as its own process (the one hop a user would otherwise deploy,
     like websockify), and through /vnc-viewer/{id} (viewer -> API -> agent socket -> agent ->
     VNC server), the paths taking turns; MB/s of the median round, and relay / bridge;
  3. round trip: 64-byte messages echoed by an echo session's VNC server, one at a time, over
     the same three paths taking turns, --rtt-samples each (default 2000) after 1000 unmeasured
     rounds: p50 and p99, and what the relay adds to the bridge's and to raw TCP's;
  4. (the desktop part, skipped with --no-desktop) connects the real desktop agent, which runs
     TigerVNC Xvnc (/usr/bin/Xvnc) with an xterm per session, in the bench's own process,
     starts an xterm-desktop session (platform local), and views it with our own RFB 3.8
     client (security None, Raw encoding) through the relay (ws://.../vnc-viewer/{id} -> API
     -> agent socket -> desktop agent -> Xvnc) and through a plain WebSocket-to-TCP bridge to
     the same Xvnc, also in the bench's process (what a user would otherwise run, like
     websockify; "direct" in the figures), with raw TCP to Xvnc as a third reference (what
     the bridge itself costs). It reports
       - the median time from the WebSocket's open to the end of the first (full)
         FramebufferUpdate, asked for right after ServerInit, over --connections fresh
         connections each (default 10); also to ServerInit and to the update's first byte
         (the gap between them is the request's way to Xvnc), and the upgrade itself (open_ms);
       - input-to-update latency: with an incremental FramebufferUpdateRequest outstanding,
         a key press typed into xterm ('a' and BackSpace alternately; its echo is the update),
         timed until that FramebufferUpdate has arrived whole, p50 and p99 over --samples
         (default 200) each; pointer moves (the cursor is drawn into the framebuffer) if key
         presses cause no update. After 20 unmeasured rounds, the paths take turns sample
         by sample so machine noise hits them alike; ratio is relay / direct bridge.
A viewer on another replica than the one holding the agent's socket (relayed between replicas)
is measured by npm run bench:vnc-replicas, which needs PostgreSQL for its two API processes.
All traffic stays on 127.0.0.1. Human-readable lines come first; the last line of the output
is one JSON object with every figure (memory, throughput, round_trip, desktop: null with
--no-desktop).
The desktops, their data directory and the API child are removed at the end, also after a
failure or Ctrl-C.

Options:
  --size-mib <n>     bytes to read per throughput run, in MiB (default 1024)
  --rounds <n>       throughput rounds per path (default 3)
  --rtt-samples <n>  64-byte round trips per path (default 2000)
  --viewers <n>      stalled viewers for the memory run (default 20)
  --samples <n>      input-latency samples per path in the desktop part (default 200)
  --connections <n>  fresh connections per path for the first-update time (default 10)
  --no-desktop       skip the desktop part (no Xvnc needed)
  --cpu-prof-dir <d> write V8 CPU profiles (node --cpu-prof) of the API, the agents and the bridges
                     there, to see where the relay's time goes
  -h, --help         show this help
`;

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(help);
  process.exit(0);
}
function count(name: string, fallback: number, whole = true): number {
  const value = Number(option(args, name) ?? fallback);
  if (!(value > 0) || (whole && !Number.isInteger(value))) {
    process.stderr.write(`${name} must be a ${whole ? 'whole ' : ''}number above 0\n${help}`);
    process.exit(2);
  }
  return value;
}
const bytes = count('--size-mib', 1024, false) * 1024 * 1024;
const rounds = count('--rounds', 3);
const rttSamples = count('--rtt-samples', 2000);
const stalled = count('--viewers', 20);
const cpuProfDir = option(args, '--cpu-prof-dir');
/** Every process the bench starts (API, agents, bridges) writes its profile there. */
const profArgs = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [];
const samples = count('--samples', 200);
const connections = count('--connections', 10);
const withDesktop = !args.includes('--no-desktop');
const say = (line: string): boolean => process.stdout.write(`${line}\n`);

const cleanups = benchCleanups();

try {
  const server = await startBenchServer(
    undefined,
    {
      PANEL_RATE_LIMITS: vncBenchRateLimits,
      LOG_LEVEL: 'warn',
    },
    profArgs,
  );
  cleanups.push(() => server.stop());
  const token = await login(server.url, 'admin', 'bench-admin-password');
  const key = await issueAgentKey(server.url, token, 'bench-agent');
  // The agents run as processes of their own, as they do in production: their VNC servers and
  // framing do not share the bench's event loop (where the viewers run).
  const agent = await startSimAgentProcess({ url: server.url, agentId: 'bench-agent', key, mode: 'pattern', region: 'bench-pattern', maxSessions: stalled + 2, nodeArgs: profArgs });
  cleanups.push(() => agent.stop());
  const echoKey = await issueAgentKey(server.url, token, 'bench-echo-agent');
  const echoAgent = await startSimAgentProcess({ url: server.url, agentId: 'bench-echo-agent', key: echoKey, mode: 'echo', region: 'bench-echo', maxSessions: 1, nodeArgs: profArgs });
  cleanups.push(() => echoAgent.stop());
  const simSession = (region = 'bench-pattern'): Promise<string> => runningSession(server.url, token, { template: 'firefox-browser', region });

  // Memory first, while the API's heap is still small: after the throughput runs it shrinks as
  // garbage is collected, which would hide the growth.
  const memory = await benchStalledMemory(server.url, token, server.pid, () => Promise.all(Array.from({ length: stalled }, simSession)));
  say(
    `memory: ${stalled} viewers that never read: API RSS ${memory.rss_before_mib} -> ${memory.rss_after_mib} MiB (+${memory.growth_mib} MiB, ${memory.per_stream_mib} MiB per stalled stream; the credit bounds it at 1 MiB each plus socket buffers)`,
  );

  const id = await simSession();
  const throughput = await benchThroughput({ url: server.url, token, id, port: await vncPortOf(server.url, token, id), bytes, rounds, apiPid: server.pid, agentPid: agent.pid, nodeArgs: profArgs });
  say(
    `throughput (${throughput.size_mib} MiB, median of ${rounds}): raw TCP ${throughput.tcp_mb_s} MB/s, bridge ${throughput.bridge_mb_s} MB/s, relay ${throughput.relay_mb_s} MB/s (${throughput.relay_vs_bridge}x the bridge, ${throughput.relay_pct_of_tcp}% of raw TCP)`,
  );
  const cpuLine = (c: Record<string, number>): string =>
    Object.entries(c)
      .filter(([, v]) => v >= 0.01)
      .map(([k, v]) => `${k} ${v}`)
      .join(' + ');
  const c = throughput.cpu_s_per_gib;
  say(`  CPU s per GiB: raw TCP ${cpuLine(c.tcp)}; bridge ${cpuLine(c.bridge)}; relay ${cpuLine(c.relay)}`);

  const echoId = await simSession('bench-echo');
  const roundTrip = await benchEchoRoundTrips(server.url, token, echoId, await vncPortOf(server.url, token, echoId), rttSamples, profArgs);
  const r = roundTrip.rtt_ms;
  say(
    `round trip (${roundTrip.frame_bytes} B, ${rttSamples} samples) p50/p99 ms: raw TCP ${r.tcp?.p50}/${r.tcp?.p99}, bridge ${r.bridge?.p50}/${r.bridge?.p99}, relay ${r.relay?.p50}/${r.relay?.p99}; the relay adds p99 ${roundTrip.added_p99_ms.vs_bridge} ms to the bridge's (${roundTrip.added_p99_ms.vs_tcp} ms to raw TCP's)`,
  );

  let desktop: DesktopFigures | null = null;
  if (withDesktop) {
    desktop = await benchDesktop({ url: server.url, token, samples, connections, say, onCleanup: (c) => cleanups.push(c) });
    say(
      `desktop ratio relay/direct: first update ${desktop.ratio.first_update}, input p50 ${desktop.ratio.p50}, p99 ${desktop.ratio.p99}${desktop.lost.relay + desktop.lost.direct > 0 ? ` (lost inputs: relay ${desktop.lost.relay}, direct ${desktop.lost.direct})` : ''}`,
    );
  }
  say('cross-replica rows: not here (one API process on the embedded database); npm run bench:vnc-replicas -- --database-url URL measures them');
  say(JSON.stringify({ bench: 'vnc', memory, throughput, round_trip: roundTrip, desktop }));
} catch (err) {
  process.exitCode = 1;
  if (!cleanups.interrupted) process.stderr.write(`bench:vnc failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
} finally {
  await cleanups.run();
}
