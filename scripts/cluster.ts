import { join } from 'node:path';
import { parseAgentArgs, usageError } from './lib/agent-cli.ts';
import { clusterUsageProblems, startCluster, type Cluster } from './lib/cluster.ts';
import { nginxVersion } from './lib/nginx-process.ts';
import { runScript } from './lib/run-script.ts';

const help = `Usage: npm run cluster -- [--replicas N] [--database-url URL] [--port P] [options]

Several replicas of the API on this machine, for trying them: starts N replicas (src/main.ts,
as npm start runs it) on loopback ports, all on one database, waits until each answers
/healthz, then starts nginx on 127.0.0.1:P in front of them with deploy/nginx.conf (the file
you would copy, filled in for loopback). Prints the URL to open. Needs nginx on PATH
(apt-get install -y nginx).

More than one replica needs a PostgreSQL server: the embedded database (PGlite) serves one
process only, so without a URL only --replicas 1 starts.

Options:
  --replicas <n>           replicas to start (default 2)
  --database-url <url>     the PostgreSQL server they share, postgres://... (default $DATABASE_URL)
  --port <p>               nginx's port on 127.0.0.1 (default 8080; 0 picks a free one)
  --replica-port <p>       the first replica's port, the others after it (default: free ports)
  --data-dir <dir>         DATA_DIR of every replica: local instances and backups, and the
                           embedded database with one replica (default ./data)
  --log-dir <dir>          where replica-<n>.log (each replica's JSON log) and nginx-access.log
                           go (default <data-dir>/cluster-logs)
  -h, --help               show this help

Each replica gets what the README's "Running several replicas" asks for: PUBLIC_URL is
nginx's address, PANEL_SERVER_PROXY_HOPS=1, PANEL_CLUSTER_INTERNAL_URL its own address, and
IDEs are served at http://dev-<vmid>.localhost:<port>. Anything else npm start reads
(ADMIN_PASSWORD, JWT_SECRET, PLUGINS, LOG_LEVEL, ...) is passed on from the environment.
A replica's stderr is shown here, prefixed with its number (a generated first-admin
password is printed there once).

SIGINT or SIGTERM closes nginx to new connections while every replica drains as it does on
its own (requests in flight finish, sockets close with 1001), then exits 0; a second signal
kills them all at once and exits 1. Exit codes: 0 stopped, 1 a replica
or nginx did not start, 2 bad arguments.

Example:
  npm run cluster -- --replicas 3 --database-url postgres://postgres@127.0.0.1:5432/panel
`;

const options = {
  replicas: { type: 'string', default: '2' },
  'database-url': { type: 'string' },
  port: { type: 'string', default: '8080' },
  'replica-port': { type: 'string' },
  'data-dir': { type: 'string', default: './data' },
  'log-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

const isPort = (text: string | undefined, allowZero: boolean): boolean => text !== undefined && /^\d+$/.test(text) && Number(text) <= 65535 && (allowZero || Number(text) > 0);

/** Resolves on the first SIGINT or SIGTERM; a second one kills everything at once. */
function untilSignal(kill: () => void): Promise<string> {
  return new Promise((resolve) => {
    let seen = false;
    const on = (signal: string): void => {
      if (seen) {
        process.stderr.write(`${signal} again: killing everything\n`);
        kill();
        process.exit(1);
      }
      seen = true;
      resolve(signal);
    };
    process.on('SIGINT', () => on('SIGINT'));
    process.on('SIGTERM', () => on('SIGTERM'));
  });
}

async function main(args: string[]): Promise<number> {
  const values = parseAgentArgs(args, options, help);
  if (typeof values === 'number') return values;
  const replicas = Number(values.replicas);
  const databaseUrl = values['database-url'] ?? (process.env.DATABASE_URL || null);
  const problems = [
    ...clusterUsageProblems({ replicas, databaseUrl }),
    ...(isPort(values.port, true) ? [] : [`--port must be a port number, got "${values.port}"`]),
    ...(values['replica-port'] === undefined || isPort(values['replica-port'], false) ? [] : [`--replica-port must be a port number, got "${values['replica-port']}"`]),
    ...(values['replica-port'] && Number(values.port) >= Number(values['replica-port']) && Number(values.port) < Number(values['replica-port']) + replicas
      ? [`--port ${values.port} is one of the replicas' ports (${values['replica-port']} and the ${replicas - 1} after it)`]
      : []),
    ...(nginxVersion() ? [] : ['nginx is not on PATH: apt-get install -y nginx']),
  ];
  if (problems.length > 0) return usageError(problems.join('\n'));

  const began = performance.now();
  const dataDir = values['data-dir'];
  let cluster: Cluster | null = null;
  const stopped = untilSignal(() => {
    for (const pid of [...(cluster?.replicas().map((r) => r.pid) ?? []), ...(cluster?.nginx.pids() ?? [])]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  cluster = await startCluster({
    replicas,
    databaseUrl,
    port: Number(values.port),
    firstReplicaPort: values['replica-port'] ? Number(values['replica-port']) : undefined,
    dataDir,
    logDir: values['log-dir'] ?? join(dataDir, 'cluster-logs'),
    baseEnv: process.env,
    onStderr: (n, text) => process.stderr.write(text.replace(/^(?=.)/gm, `[replica ${n}] `)),
    onUnexpectedExit: (n, code) => process.stderr.write(`replica ${n} exited (code ${code}); see its log. The others keep serving.\n`),
  });
  const seconds = ((performance.now() - began) / 1000).toFixed(1);
  for (const r of cluster.replicas()) process.stdout.write(`replica ${r.number}: ${r.url} (pid ${r.pid}), log ${r.logFile}\n`);
  process.stdout.write(`nginx: ${cluster.url} (deploy/nginx.conf; access log ${cluster.nginxAccessLog}); IDEs at http://dev-<vmid>.localhost:${cluster.port}\n`);
  process.stdout.write(`ready in ${seconds} s. Open ${cluster.url}; Ctrl-C stops everything.\n`);
  const signal = await stopped;
  process.stdout.write(`${signal}: stopping nginx and the replicas\n`);
  await cluster.stop();
  return 0;
}

runScript('cluster', main);
