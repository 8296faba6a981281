import { option, startBenchServer } from './lib/bench-server.ts';
import { issueAgentKey, login, runningSession } from './lib/bench-vnc-api.ts';
import { benchStalledMemory, benchThroughput } from './lib/bench-vnc-throughput.ts';
import { SimAgent } from './lib/streamspace-sim-agent.ts';

const help = `Usage: npm run bench:vnc -- [--size-mib N] [--viewers N]

Measures the StreamSpace VNC relay. Starts the API (embedded database) as a child process
and a simulated agent in pattern mode (its VNC server streams bytes as fast as they are
read), then:
  1. after a 64 MiB warm-up each way, reads N MiB (default 1024) from the session's VNC server directly over TCP, and the
     same through /vnc-viewer/{id} (viewer -> API -> agent socket -> VNC server), in MB/s;
  2. opens --viewers viewers (default 20) on their own sessions that never read, waits 3 s,
     and reports the API's RSS growth: each stream may hold at most its 1 MiB credit, so the
     growth stays bounded however long they stall.
All traffic stays on 127.0.0.1. Human-readable lines come first; the last line of the output
is one JSON object with every figure. The API child and its data directory are removed at
the end, also after a failure or Ctrl-C.

Options:
  --size-mib <n>     bytes to read per throughput run, in MiB (default 1024)
  --viewers <n>      stalled viewers for the memory run (default 20)
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
const say = (line: string): boolean => process.stdout.write(`${line}\n`);

// Everything started is stopped in reverse order, after a failure and on SIGINT/SIGTERM too.
const cleanups: Array<() => Promise<void> | void> = [];
const cleanUp = async (): Promise<void> => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch((err: unknown) => process.stderr.write(`cleanup: ${String(err)}\n`));
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
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

  say(JSON.stringify({ bench: 'vnc', throughput, memory }));
} catch (err) {
  process.exitCode = 1;
  process.stderr.write(`bench:vnc failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
} finally {
  await cleanUp();
}
