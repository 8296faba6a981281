import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/lib/free-port.ts';
import { childPids } from './proc-cpu.ts';

/**
 * One worker: the panel's API is one Node process (one event loop, about one core), and the
 * 2 cores here are shared with the load generator and the IDE; `auto` would let nginx take
 * both cores from its own load generator. One worker compares the two proxies core for core.
 */
export const nginxWorkers = 1;

export interface NginxProxy {
  /** 127.0.0.1:<port> forwards to the upstream. */
  port: number;
  version: string;
  /** The master and its workers, for CPU accounting (the master itself does next to nothing). */
  pids(): number[];
  stop(): Promise<void>;
}

/** The version of the nginx on PATH ("1.22.1"), or null when there is none. */
export function nginxVersion(): string | null {
  const probe = spawnSync('nginx', ['-v'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return null;
  return /nginx\/(\S+)/.exec(probe.stderr)?.[1] ?? 'unknown';
}

/**
 * A plain reverse proxy, as one would put in front of code-server: HTTP/1.1 to a keep-alive
 * upstream pool, Connection cleared for ordinary requests (so upstream connections are reused)
 * and set to "upgrade" for WebSocket upgrades (the map from nginx's WebSocket docs), no access log.
 * keepalive_requests is raised on both sides so the figures do not include reconnects every
 * 1,000 requests, which neither the panel nor the direct path does.
 */
export function nginxConfig(dir: string, listenPort: number, upstreamPort: number): string {
  return `worker_processes ${nginxWorkers};
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
  map $http_upgrade $connection_upgrade {
    default upgrade;
    '' '';
  }
  upstream ide {
    server 127.0.0.1:${upstreamPort};
    keepalive 32;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${listenPort};
    location / {
      proxy_pass http://ide;
      proxy_http_version 1.1;
      proxy_set_header Host $host;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_read_timeout 1h;
    }
  }
}
`;
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
 * Starts nginx in the foreground (its own master, a generated config in a temporary directory
 * that also holds its error log, pid file and temp paths) on a free loopback port in front of
 * 127.0.0.1:<upstreamPort>. stop() ends it and removes the directory.
 */
export async function startNginx(upstreamPort: number, version: string): Promise<NginxProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-nginx-'));
  // Workers run as nobody when nginx is started as root; they must reach the temp paths.
  chmodSync(dir, 0o755);
  const port = await freePort();
  writeFileSync(join(dir, 'nginx.conf'), nginxConfig(dir, port, upstreamPort));
  const master = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
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
  const log = (): string => (existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : '') + stderr;
  const atExit = (): void => {
    if (!exited) master.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', atExit);
  const stop = async (): Promise<void> => {
    if (!exited) master.kill('SIGTERM');
    const force = setTimeout(() => master.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(force);
    process.off('exit', atExit);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  while (!exited && Date.now() < deadline) {
    if ((await canConnect(port)) && childPids(master.pid ?? 0).length >= nginxWorkers) {
      return { port, version, pids: () => [master.pid ?? 0, ...childPids(master.pid ?? 0)], stop };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const why = log().trim();
  await stop();
  throw new Error(`nginx did not start: ${why || 'no output'}`);
}
