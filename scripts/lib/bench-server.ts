import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/lib/free-port.ts';


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

const root = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The node flags `npm start` gives the server (those between `node` and `--import`), so a
 * benchmark measures the server as it runs in production, GC settings included.
 */
export function startScriptNodeFlags(): string[] {
  const { scripts } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const words = scripts.start.split(/\s+/);
  return words.slice(1, words.indexOf('--import'));
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
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [...startScriptNodeFlags(), ...nodeArgs, '--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: extraEnv.LOG_LEVEL ?? 'info', ADMIN_PASSWORD: benchAdminPassword, PANEL_RATE_LIMITS: JSON.stringify(unlimited), DATABASE_URL: databaseUrl ?? '', ...extraEnv },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let exited = false;
  const gone = new Promise<void>((done) =>
    child.once('exit', () => {
      exited = true;
      done();
    }),
  );
  const remove = (): void => rmSync(dataDir, { recursive: true, force: true });
  // A bench that exits before the server is gone (process.exit after stop(), a signal during
  // startup) still stops it and removes the directory, as stop() always did.
  const atExit = (): void => {
    if (!exited) child.kill('SIGTERM');
    remove();
  };
  process.once('exit', atExit);
  const stop = async (): Promise<void> => {
    if (!exited) child.kill('SIGTERM');
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(force);
    process.off('exit', atExit);
    remove();
  };
  // The request log is read and dropped; readiness is /healthz answering (whatever the log level).
  child.stdout?.resume();
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) {
      const res = await post(`${url}/api/auth/login`, { login: 'admin', password: benchAdminPassword });
      const { access_token: adminToken } = (await res.json()) as { access_token: string };
      return { url, dataDir, pid: child.pid ?? 0, adminToken, exited: gone, stop };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error('server did not start within 60 s');
}

export function post(url: string, body: unknown, token?: string): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
}

export const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;

export function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}
