import { option, startBenchServer } from './lib/bench-server.ts';
import { issueAgentKey, login, runningSession } from './lib/bench-vnc-api.ts';
import { benchDesktop, type DesktopFigures } from './lib/bench-vnc-desktop.ts';
import { benchStalledMemory, benchThroughput } from './lib/bench-vnc-throughput.ts';
import { SimAgent } from './lib/streamspace-sim-agent.ts';

const help = `Usage: npm run bench:vnc -- [--size-mib N] [--viewers N] [--samples N] [--connections N] [--no-desktop]

Measures the StreamSpace VNC relay. Starts the API (embedded database) as a child process
and a simulated agent in pattern mode (its VNC server streams bytes as fast as they are
read), then:
  1. after a 64 MiB warm-up each way, reads N MiB (default 1024) from the session's VNC server directly over TCP, and the
     same through /vnc-viewer/{id} (viewer -> API -> agent socket -> VNC server), in MB/s;
  2. opens --viewers viewers (default 20) on their own sessions that never read, waits 3 s,
     and reports the API's RSS growth: each stream may hold at most its 1 MiB credit, so the
     growth stays bounded however long they stall;
  3. (the desktop part, skipped with --no-desktop) connects the real desktop agent, which runs
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
All traffic stays on 127.0.0.1. Human-readable lines come first; the last line of the output
is one JSON object with every figure (throughput, memory, desktop: null with --no-desktop).
The desktops, their data directory and the API child are removed at the end, also after a
failure or Ctrl-C.

Options:
  --size-mib <n>     bytes to read per throughput run, in MiB (default 1024)
  --viewers <n>      stalled viewers for the memory run (default 20)
  --samples <n>      input-latency samples per path in the desktop part (default 200)
  --connections <n>  fresh connections per path for the first-update time (default 10)
  --no-desktop       skip the desktop part (no Xvnc needed)
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
const stalled = count('--viewers', 20);
const samples = count('--samples', 200);
const connections = count('--connections', 10);
const withDesktop = !args.includes('--no-desktop');
const say = (line: string): boolean => process.stdout.write(`${line}\n`);

// Everything started is stopped in reverse order, after a failure and on SIGINT/SIGTERM too.
const cleanups: Array<() => Promise<void> | void> = [];
let interrupted = false;
const cleanUp = async (): Promise<void> => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch((err: unknown) => process.stderr.write(`cleanup: ${String(err)}\n`));
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    process.stderr.write(`${signal}: cleaning up\n`);
    void cleanUp().finally(() => process.exit(130));
  });
}

try {
  const server = await startBenchServer(undefined, {
    PANEL_RATE_LIMITS: JSON.stringify(Object.fromEntries(['auth_login_account_ip', 'auth_login_ip', 'auth_login_account', 'streamspace_api', 'streamspace_session_create', 'streamspace_login', 'streamspace_login_ip', 'streamspace_vnc_upgrade', 'streamspace_agent_upgrade'].map((n) => [n, { limit: 1e9, window_s: 60 }]))),
    LOG_LEVEL: 'warn',
  });
  cleanups.push(() => server.stop());
  const token = await login(server.url, 'admin', 'bench-admin-password');
  const key = await issueAgentKey(server.url, token, 'bench-agent');
  const agent = new SimAgent({ url: server.url, agentId: 'bench-agent', key, mode: 'pattern', maxSessions: stalled + 2, commandDelayMs: 0 });
  cleanups.push(() => agent.stop());
  await agent.start();
  const simSession = (): Promise<string> => runningSession(server.url, token, { template: 'firefox-browser' });

  const id = await simSession();
  const throughput = await benchThroughput(server.url, token, id, agent.sessions.get(id)?.port as number, bytes);
  say(`throughput (${throughput.size_mib} MiB): direct ${throughput.direct_mb_s} MB/s, through the API ${throughput.relay_mb_s} MB/s (${throughput.relay_pct_of_direct}% of direct)`);

  const memory = await benchStalledMemory(server.url, token, server.pid, () => Promise.all(Array.from({ length: stalled }, simSession)));
  say(`memory: ${stalled} viewers that never read: API RSS ${memory.rss_before_mib} -> ${memory.rss_after_mib} MiB (+${memory.growth_mib} MiB, ${memory.per_stream_mib} MiB per stalled stream; the credit bounds it at 1 MiB each plus socket buffers)`);

  let desktop: DesktopFigures | null = null;
  if (withDesktop) {
    desktop = await benchDesktop({ url: server.url, token, samples, connections, say, onCleanup: (c) => cleanups.push(c) });
    say(`desktop ratio relay/direct: first update ${desktop.ratio.first_update}, input p50 ${desktop.ratio.p50}, p99 ${desktop.ratio.p99}${desktop.lost.relay + desktop.lost.direct > 0 ? ` (lost inputs: relay ${desktop.lost.relay}, direct ${desktop.lost.direct})` : ''}`);
  }
  say(JSON.stringify({ bench: 'vnc', throughput, memory, desktop }));
} catch (err) {
  process.exitCode = 1;
  // After a signal, what fails is only the cleanup pulling connections from under the bench.
  if (!interrupted) process.stderr.write(`bench:vnc failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
} finally {
  await cleanUp();
}
