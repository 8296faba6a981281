import { httpRun, wsRun, type HttpFigures, type Target, type WsFigures } from './lib/bench-ide-load.ts';
import { benchCleanups } from './lib/bench-cleanups.ts';
import { ideSession, removeIdeSession } from './lib/bench-ide-session.ts';
import { nginxVersion, nginxWorkers, startNginx, type NginxProxy } from './lib/bench-nginx.ts';
import { option, startBenchServer } from './lib/bench-server.ts';

const help = `Usage: npm run bench:ide-proxy -- [--concurrency N] [--duration-s S] [--ws-messages N]

Measures the hosted IDE proxy. Starts the API (embedded database, local provisioner) as a
child process, creates a dev container whose IDE is the stand-in (src/agent/sample/ide-stand-in.ts),
opens an IDE session, and, when nginx is on PATH, starts its own nginx (one worker, a generated
config in a temporary directory, a free loopback port) as a plain reverse proxy to the same IDE.
Then compares three paths: directly against the IDE's port, through nginx, and through the
API (Host dev-<vmid>.localhost, session cookie):
  - HTTP: GET /echo with N keep-alive workers for S seconds: requests/s, p50, p99, and the
    proxy's CPU per request (the API child's, nginx's master and worker; /proc utime+stime)
  - WebSocket: sequential 64-byte echoes (round trip p50, p99) and 64 KiB messages with
    16 in flight for S seconds (MB/s, MiB counted)
Goals: through the API at least 0.8x nginx's and 50% of direct HTTP requests/s, at most
120 us of API CPU per proxied request, added HTTP p99 under 1 ms (vs direct), WebSocket at
least 80% of direct MB/s. Without nginx on PATH, nginx's figures are null.
All traffic stays on 127.0.0.1. Human-readable lines come first; the last line of the output
is one JSON object with every figure.

Options:
  --concurrency <n>    HTTP workers (default 16)
  --duration-s <s>     length of each HTTP and WebSocket throughput run (default 8)
  --ws-messages <n>    sequential echoes for the round-trip measure (default 2000)
  -h, --help           show this help
`;

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(help);
  process.exit(0);
}
const concurrency = Number(option(args, '--concurrency') ?? 16);
const durationS = Number(option(args, '--duration-s') ?? 8);
const wsMessages = Number(option(args, '--ws-messages') ?? 2000);
const say = (line: string): boolean => process.stdout.write(`${line}\n`);

type PathName = 'direct' | 'nginx' | 'panel';
interface PathFigures {
  http: HttpFigures;
  ws: WsFigures;
}
const labels: Record<PathName, string> = { direct: 'direct to the IDE', nginx: 'through nginx', panel: 'through the API' };

const cleanups = benchCleanups();

const round = (n: number | undefined, digits: number): number | null => (n === undefined || !Number.isFinite(n) ? null : Number(n.toFixed(digits)));
const f = (n: number | null, digits = 2): string => (n === null ? '-' : n.toFixed(digits));

try {
  const server = await startBenchServer(undefined, { PANEL_IDE_SCHEME: 'http', DEV_IDE_SUFFIX: 'localhost', LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info' });
  cleanups.push(() => server.stop());
  const { id, direct, proxied } = await ideSession(server);
  cleanups.push(() => removeIdeSession(server, id));
  const version = nginxVersion();
  let nginx: NginxProxy | null = null;
  if (version) {
    nginx = await startNginx(direct.port, version);
    cleanups.push(() => nginx?.stop());
  } else {
    say('nginx is not on PATH: no nginx baseline in this run (install it, e.g. apt-get install nginx, for one)');
  }
  const paths: Array<[PathName, Target, () => number[]]> = [
    ['direct', direct, () => []],
    ...(nginx ? [['nginx', { port: nginx.port, headers: proxied.headers }, () => nginx.pids()] as [PathName, Target, () => number[]]] : []),
    ['panel', proxied, () => [server.pid]],
  ];
  process.stderr.write('warming up\n');
  for (const [, target, pids] of paths) await httpRun(target, concurrency, Math.min(durationS, 3), pids);
  const results: Partial<Record<PathName, PathFigures>> = {};
  for (const [name, target, pids] of paths) {
    process.stderr.write(`measuring ${labels[name]}\n`);
    results[name] = { http: await httpRun(target, concurrency, durationS, pids), ws: await wsRun(target, wsMessages, durationS) };
  }
  const { direct: d, nginx: n, panel: p } = results as Record<PathName, PathFigures | undefined>;
  if (!d || !p) throw new Error('a path was not measured');
  const usPerReq = (r: PathFigures | undefined): number | undefined => (r ? (r.http.cpuSeconds / r.http.requests) * 1e6 : undefined);

  say(
    `\nHTTP GET /echo, ${concurrency} workers, ${durationS} s; WebSocket ${wsMessages} sequential 64 B echoes, then 64 KiB x16 in flight for ${durationS} s${nginx ? `; nginx ${nginx.version}, worker_processes ${nginxWorkers}` : ''}\n`,
  );
  say('| path | HTTP req/s | HTTP p50 / p99 ms | proxy CPU (cores) | proxy CPU µs/req | WS RTT p50 / p99 ms | WS MB/s |\n|---|---|---|---|---|---|---|');
  for (const [name, r] of Object.entries(results) as Array<[PathName, PathFigures]>) {
    const cpu = name === 'direct' ? '- | -' : `${f(r.http.cpuSeconds / r.http.seconds)} | ${f(round(usPerReq(r), 0), 0)}`;
    say(`| ${labels[name]} | ${f(r.http.rps, 0)} | ${f(r.http.p50)} / ${f(r.http.p99)} | ${cpu} | ${f(r.ws.p50, 3)} / ${f(r.ws.p99, 3)} | ${f(r.ws.mbps, 1)} |`);
  }

  const goal = (value: number | undefined, text: string, met: (v: number) => boolean, digits = 2) => {
    const v = round(value, digits);
    return { value: v, goal: text, met: v === null ? null : met(v) };
  };
  const goals = {
    panel_vs_nginx_rps: goal(n ? p.http.rps / n.http.rps : undefined, '>= 0.8', (v) => v >= 0.8),
    panel_vs_direct_rps: goal(p.http.rps / d.http.rps, '>= 0.5', (v) => v >= 0.5),
    api_cpu_us_per_req: goal(usPerReq(p), '<= 120', (v) => v <= 120, 0),
    added_http_p99_ms: goal(p.http.p99 - d.http.p99, '< 1', (v) => v < 1, 3),
    ws_mb_s_vs_direct: goal(p.ws.mbps / d.ws.mbps, '>= 0.8', (v) => v >= 0.8),
  };
  say('');
  for (const [name, g] of Object.entries(goals)) say(`${name}: ${g.value ?? 'n/a'} (goal ${g.goal}): ${g.met === null ? 'not measured' : g.met ? 'met' : 'MISSED'}`);
  if (n) say(`for reference, nginx: ${f(n.http.rps / d.http.rps)}x direct req/s, added HTTP p99 ${f(n.http.p99 - d.http.p99, 3)} ms, WS ${f(n.ws.mbps / d.ws.mbps)}x direct MB/s`);

  const per = (pick: (r: PathFigures) => number, digits: number): Record<PathName, number | null> => ({
    direct: round(pick(d), digits),
    nginx: n ? round(pick(n), digits) : null,
    panel: round(pick(p), digits),
  });
  await cleanups.run();
  say(
    JSON.stringify({
      bench: 'ide-proxy',
      concurrency,
      duration_s: durationS,
      ws_messages: wsMessages,
      nginx: nginx ? { version: nginx.version, worker_processes: nginxWorkers } : null,
      http_rps: per((r) => r.http.rps, 0),
      http_p50_ms: per((r) => r.http.p50, 3),
      http_p99_ms: per((r) => r.http.p99, 3),
      ws_rtt_p50_ms: per((r) => r.ws.p50, 3),
      ws_rtt_p99_ms: per((r) => r.ws.p99, 3),
      ws_mb_s: per((r) => r.ws.mbps, 1),
      api_cpu_us_per_req: { panel: round(usPerReq(p), 0), nginx: round(usPerReq(n), 0) },
      goals,
    }),
  );
} catch (err) {
  process.exitCode = 1;
  process.stderr.write(`bench:ide-proxy failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
} finally {
  await cleanups.run();
}
