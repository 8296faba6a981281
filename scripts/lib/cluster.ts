import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort } from '../../src/lib/free-port.ts';
import { startNginx, type NginxProcess } from './nginx-process.ts';
import { renderDeployNginxConf } from './nginx-site.ts';
import { startReplica, type ReplicaProcess } from './replica-process.ts';

export interface ClusterOptions {
  replicas: number;
  /** The PostgreSQL server every replica shares; null: embedded PGlite, which allows one replica only. */
  databaseUrl: string | null;
  /** nginx's port on 127.0.0.1 (0: a free one). */
  port: number;
  /** The first replica's port, the others after it; unset: free ports. */
  firstReplicaPort?: number;
  /** DATA_DIR of every replica (local instances and backups; the embedded database with one replica). */
  dataDir: string;
  /** Where replica-<n>.log (each replica's JSON log) and nginx-access.log go. */
  logDir: string;
  /** The environment every replica starts from; the cluster's own settings go over it. */
  baseEnv: NodeJS.ProcessEnv;
  /** A replica's stderr (the first admin's generated password is printed there once). */
  onStderr(replica: number, text: string): void;
  /** A replica that exits without being asked to. */
  onUnexpectedExit?(replica: number, code: number | null): void;
}

export interface ClusterReplica {
  /** 1-based, as in the log file names. */
  number: number;
  url: string;
  port: number;
  pid: number;
  logFile: string;
}

export interface Cluster {
  /** nginx: what a browser or client talks to. */
  url: string;
  port: number;
  replicas(): ClusterReplica[];
  nginx: NginxProcess;
  nginxAccessLog: string;
  /** Stops one replica (SIGTERM: it drains as on any stop), then starts it again on the same port. */
  restartReplica(number: number): Promise<ClusterReplica>;
  /**
   * nginx stops taking connections while every replica drains (in-flight requests finish, sockets
   * close with 1001, event streams end, all passed on through nginx); then both are gone.
   */
  stop(): Promise<void>;
}

export const clusterUsageProblems = (options: Pick<ClusterOptions, 'replicas' | 'databaseUrl'>): string[] => [
  ...(Number.isInteger(options.replicas) && options.replicas >= 1 ? [] : [`replicas must be a whole number ≥ 1, got ${options.replicas}`]),
  ...(options.replicas > 1 && !options.databaseUrl ? ['more than one replica needs a PostgreSQL server (--database-url or DATABASE_URL): the embedded database (PGlite) serves one process only'] : []),
  ...(options.databaseUrl && !/^postgres(ql)?:\/\//.test(options.databaseUrl) ? [`the database URL must be postgres://..., got ${options.databaseUrl}`] : []),
];

/**
 * N replicas of the API on loopback ports, all on one database and one DATA_DIR, with nginx in
 * front running deploy/nginx.conf. Each replica is set up as the README's "Running several
 * replicas" says: PUBLIC_URL is nginx's address, PANEL_SERVER_PROXY_HOPS=1, its own
 * PANEL_CLUSTER_INTERNAL_URL; IDEs are served at dev-<vmid>.localhost:<port> over http.
 */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const problems = clusterUsageProblems(options);
  if (problems.length > 0) throw new Error(problems.join('; '));
  const dataDir = resolve(options.dataDir);
  const logDir = resolve(options.logDir);
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(logDir, { recursive: true });
  const taken = new Set<number>();
  // freePort closes its probe at once, so the OS could hand out one port twice in a row.
  const unusedPort = async (): Promise<number> => {
    let candidate = await freePort();
    while (taken.has(candidate)) candidate = await freePort();
    taken.add(candidate);
    return candidate;
  };
  const port = options.port || (await unusedPort());
  taken.add(port);
  const publicUrl = `http://127.0.0.1:${port}`;
  const ports: number[] = [];
  for (let i = 0; i < options.replicas; i += 1) ports.push(options.firstReplicaPort ? options.firstReplicaPort + i : await unusedPort());

  const replicaEnv = (number: number): NodeJS.ProcessEnv => ({
    ...options.baseEnv,
    HOST: '127.0.0.1',
    DATABASE_URL: options.databaseUrl ?? '',
    DATA_DIR: dataDir,
    PUBLIC_URL: publicUrl,
    // The same page opened as localhost instead of 127.0.0.1 may still open WebSockets.
    ALLOWED_ORIGINS: `http://localhost:${port}`,
    PANEL_SERVER_PROXY_HOPS: '1',
    // Every connection comes from nginx: a per-address cap would cap nginx, not its clients (docs/robustness.md).
    PANEL_SERVER_MAX_CONNECTIONS_PER_IP: '0',
    PANEL_CLUSTER_INTERNAL_URL: `http://127.0.0.1:${ports[number - 1]}`,
    DEV_IDE_SUFFIX: 'localhost',
    PANEL_IDE_SCHEME: 'http',
    PANEL_IDE_PUBLIC_PORT: String(port),
  });
  const logFile = (number: number): string => join(logDir, `replica-${number}.log`);
  const running: Array<ReplicaProcess | null> = ports.map(() => null);
  let stoppingAll = false;
  const describe = (number: number, r: ReplicaProcess): ClusterReplica => ({ number, url: r.url, port: r.port, pid: r.pid, logFile: logFile(number) });

  async function start(number: number): Promise<ClusterReplica> {
    const file = logFile(number);
    const log = createWriteStream(file, { flags: 'a' });
    const replica = await startReplica({
      port: ports[number - 1] as number,
      env: replicaEnv(number),
      stdout: (chunk) => log.write(chunk),
      stderr: (chunk) => options.onStderr(number, chunk.toString()),
      detached: true,
    }).catch((err: unknown) => {
      log.end();
      throw err;
    });
    running[number - 1] = replica;
    void replica.exited.then((code) => {
      log.end();
      // A replica being restarted is no longer in `running` when it exits.
      if (running[number - 1] === replica && !stoppingAll) options.onUnexpectedExit?.(number, code);
    });
    return describe(number, replica);
  }
  const stopReplicas = async (): Promise<void> => {
    stoppingAll = true;
    await Promise.all(running.map((r) => r?.stop()));
  };

  let nginx: NginxProcess;
  try {
    // All at once: migrations, stored secrets and the first admin are each made under a lock.
    const started = await Promise.allSettled(ports.map((_, i) => start(i + 1)));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    const accessLog = join(logDir, 'nginx-access.log');
    nginx = await startNginx({
      port,
      workers: 1,
      detached: true,
      http: (dir) => {
        const site = renderDeployNginxConf({
          listen: `127.0.0.1:${port}`,
          replicas: ports.map((p) => `127.0.0.1:${p}`),
          publicHost: '127.0.0.1 localhost',
          ideSuffix: 'localhost',
          accessLog,
        });
        writeFileSync(join(dir, 'panel.conf'), site);
        return `  include ${join(dir, 'panel.conf')};`;
      },
    });
  } catch (err) {
    await stopReplicas();
    throw err;
  }

  return {
    url: publicUrl,
    port,
    nginx,
    nginxAccessLog: join(logDir, 'nginx-access.log'),
    replicas: () => running.flatMap((r, i) => (r ? [describe(i + 1, r)] : [])),
    restartReplica: async (number) => {
      const current = running[number - 1];
      if (!current) throw new Error(`there is no replica ${number}`);
      running[number - 1] = null;
      await current.stop();
      return start(number);
    },
    stop: async () => {
      await Promise.all([nginx.stop({ graceful: true }), stopReplicas()]);
    },
  };
}
