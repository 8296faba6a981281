import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childPids } from './proc-cpu.ts';

export interface NginxProcess {
  /** The port the http block listens on (127.0.0.1). */
  port: number;
  /** The runtime directory: the config, pid file, temp paths and error log. */
  dir: string;
  /** The master and its workers, for CPU accounting (the master itself does next to nothing). */
  pids(): number[];
  /** nginx's error log and stderr so far. */
  errors(): string;
  /**
   * SIGTERM: connections are cut at once. `graceful` (SIGQUIT): the listener closes, and nginx
   * exits once the requests and sockets it carries have ended. SIGKILL if it is still there later.
   */
  stop(options?: { graceful?: boolean }): Promise<void>;
}

export interface NginxOptions {
  /** The loopback port the http block listens on; startNginx waits until it accepts. */
  port: number;
  workers: number;
  /** The http block's contents; it may write files into the runtime directory and include them. */
  http(dir: string): string;
  /** Its own process group, so a terminal's Ctrl-C reaches only whoever stops it (scripts/cluster). */
  detached?: boolean;
}

/** The version of the nginx on PATH ("1.22.1"), or null when there is none. */
export function nginxVersion(): string | null {
  const probe = spawnSync('nginx', ['-v'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return null;
  return /nginx\/(\S+)/.exec(probe.stderr)?.[1] ?? 'unknown';
}

/** The main context around an http block: everything nginx writes stays in `dir`. */
function mainConfig(dir: string, workers: number, http: string): string {
  return `worker_processes ${workers};
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 1024; }
http {
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${http}
}
`;
}

/** What `nginx -t` says of an http block (in the same main context startNginx uses). */
export function checkNginxConfig(http: (dir: string) => string): { ok: boolean; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'panel-nginx-check-'));
  try {
    writeFileSync(join(dir, 'nginx.conf'), mainConfig(dir, 1, http(dir)));
    const run = spawnSync('nginx', ['-t', '-q', '-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { encoding: 'utf8' });
    return { ok: run.status === 0, output: `${run.stdout}${run.stderr}`.trim() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const canConnect = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });

/**
 * Starts nginx in the foreground (its own master) with a generated main config in a temporary
 * directory, and waits until the port accepts and every worker is up. stop() ends it and
 * removes the directory; so does this process exiting.
 */
export async function startNginx(options: NginxOptions): Promise<NginxProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'panel-nginx-'));
  // Workers run as nobody when nginx is started as root; they must reach the temp paths.
  chmodSync(dir, 0o755);
  const { port, workers } = options;
  writeFileSync(join(dir, 'nginx.conf'), mainConfig(dir, workers, options.http(dir)));
  const master = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log'), '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: options.detached ?? false,
  });
  let stderr = '';
  master.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  let exited = false;
  const gone = new Promise<void>((done) =>
    master.once('exit', () => {
      exited = true;
      done();
    }),
  );
  master.once('error', () => undefined);
  const errors = (): string => (existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : '') + stderr;
  const atExit = (): void => {
    if (!exited) master.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', atExit);
  const stop = async ({ graceful = false } = {}): Promise<void> => {
    if (!exited) master.kill(graceful ? 'SIGQUIT' : 'SIGTERM');
    const force = setTimeout(() => master.kill('SIGKILL'), graceful ? 15_000 : 5000);
    await gone;
    clearTimeout(force);
    process.off('exit', atExit);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  while (!exited && Date.now() < deadline) {
    if ((await canConnect(port)) && childPids(master.pid ?? 0).length >= workers) {
      return { port, dir, pids: () => [master.pid ?? 0, ...childPids(master.pid ?? 0)], errors, stop };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const why = errors().trim();
  await stop();
  throw new Error(`nginx did not start: ${why || 'no output'}`);
}
