import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/lib/free-port.ts';
import { startReplica, type ReplicaProcess } from './replica-process.ts';

export interface BenchServer {
  url: string;
  /** The server's DATA_DIR (local agents live under instances/<id>). */
  dataDir: string;
  pid: number;
  adminToken: string;
  /** Resolves when the process has exited, however it was ended. */
  exited: Promise<void>;
  /** Stops the server and then removes its data directory; await it to know both are done. */
  stop(): Promise<void>;
}

export const benchAdminPassword = 'bench-admin-password';

/**
 * The real server as a child process for a benchmark: loopback only, a temporary embedded
 * database (or the given PostgreSQL URL), rate limits lifted so they do not shape the numbers.
 * `nodeArgs` go to the server's node (`--cpu-prof`, for a profile written when it stops).
 */
export async function startBenchServer(databaseUrl: string | undefined, extraEnv: Record<string, string> = {}, nodeArgs: string[] = []): Promise<BenchServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'panel-bench-'));
  const unlimited = Object.fromEntries(['auth_login_account_ip', 'auth_login_ip', 'auth_login_account', 'auth_reset_email', 'auth_reset_ip'].map((n) => [n, { limit: 1e9, window_s: 60 }]));
  const remove = (): void => rmSync(dataDir, { recursive: true, force: true });
  // A bench that exits before the server is gone (process.exit after stop(), a signal during
  // startup) still removes the directory, as stop() always did.
  process.once('exit', remove);
  let replica: ReplicaProcess;
  try {
    replica = await startReplica({
      port: await freePort(),
      env: {
        ...process.env,
        HOST: '127.0.0.1',
        DATA_DIR: dataDir,
        LOG_LEVEL: extraEnv.LOG_LEVEL ?? 'info',
        ADMIN_PASSWORD: benchAdminPassword,
        PANEL_RATE_LIMITS: JSON.stringify(unlimited),
        DATABASE_URL: databaseUrl ?? '',
        ...extraEnv,
      },
      nodeArgs,
      // The request log is read and dropped; readiness is /healthz answering (whatever the log level).
      stdout: () => undefined,
      stderr: 'inherit',
    });
  } catch (err) {
    remove();
    throw err;
  }
  const stop = async (): Promise<void> => {
    await replica.stop();
    process.off('exit', remove);
    remove();
  };
  const res = await post(`${replica.url}/api/auth/login`, { login: 'admin', password: benchAdminPassword });
  const { access_token: adminToken } = (await res.json()) as { access_token: string };
  return { url: replica.url, dataDir, pid: replica.pid, adminToken, exited: replica.exited.then(() => undefined), stop };
}

export function post(url: string, body: unknown, token?: string): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
}

export const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;

export function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}
