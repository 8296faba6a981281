import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The node flags `npm start` gives the server (those between `node` and its script), so a
 * replica runs as in production, GC settings included.
 */
export function startScriptNodeFlags(): string[] {
  const { scripts } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: { start: string } };
  // `node <flags> scripts/start.mjs`: the words after node that are flags.
  const words = scripts.start.split(/\s+/).slice(1);
  return words.slice(
    0,
    words.findIndex((w) => !w.startsWith('-')),
  );
}

export interface ReplicaOptions {
  /** The port it listens on (127.0.0.1 unless env sets HOST); the caller picks it so it is known before the start. */
  port: number;
  /** Its whole environment (PORT and HOST are set from `port` unless env names HOST). */
  env: NodeJS.ProcessEnv;
  /** More node flags (`--cpu-prof`), after npm start's. */
  nodeArgs?: string[];
  /** Where its stdout (the JSON log) and stderr go: ignored, passed through, or given to a function. */
  stdout: 'ignore' | 'inherit' | ((chunk: Buffer) => void);
  stderr: 'ignore' | 'inherit' | ((chunk: Buffer) => void);
  /** Its own process group, so a terminal's Ctrl-C reaches only whoever stops it (scripts/cluster). */
  detached?: boolean;
  /** How long it may take to answer /healthz (default 60 s). */
  startTimeoutMs?: number;
  /** After SIGTERM, how long it may drain before SIGKILL (default 10 s). */
  killAfterMs?: number;
}

export interface ReplicaProcess {
  url: string;
  port: number;
  pid: number;
  child: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** SIGTERM (the server drains as on any stop), SIGKILL if it is still there after killAfterMs. */
  stop(): Promise<number | null>;
}

const streamMode = (mode: ReplicaOptions['stdout']): 'ignore' | 'inherit' | 'pipe' => (typeof mode === 'function' ? 'pipe' : mode);

/**
 * One API process started the way `npm start` starts it (src/main.ts), resolved once its
 * /healthz answers 200. Rejects, with the process stopped, if it exits or does not answer in
 * time. A parent that exits first takes it down with it.
 */
export async function startReplica(options: ReplicaOptions): Promise<ReplicaProcess> {
  const host = options.env.HOST ?? '127.0.0.1';
  const child = spawn(process.execPath, [...startScriptNodeFlags(), ...(options.nodeArgs ?? []), '--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { HOST: host, ...options.env, PORT: String(options.port) },
    stdio: ['ignore', streamMode(options.stdout), streamMode(options.stderr)],
    detached: options.detached ?? false,
  });
  if (typeof options.stdout === 'function') child.stdout?.on('data', options.stdout);
  if (typeof options.stderr === 'function') child.stderr?.on('data', options.stderr);
  let code: number | null | undefined;
  const exited = new Promise<number | null>((done) =>
    child.once('exit', (exitCode) => {
      code = exitCode;
      done(exitCode);
    }),
  );
  child.once('error', () => undefined);
  // An orphan still drains and closes its database.
  const atExit = (): void => {
    if (code === undefined) child.kill('SIGTERM');
  };
  process.once('exit', atExit);
  const stop = async (): Promise<number | null> => {
    if (code === undefined) child.kill('SIGTERM');
    const force = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs ?? 10_000);
    const exitCode = await exited;
    clearTimeout(force);
    process.off('exit', atExit);
    return exitCode;
  };
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${options.port}`;
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  while (code === undefined && Date.now() < deadline) {
    if (
      await fetch(`${url}/healthz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return { url, port: options.port, pid: child.pid ?? 0, child, exited, stop };
    await new Promise((r) => setTimeout(r, 100));
  }
  const exitCode = code;
  await stop();
  throw new Error(exitCode === undefined ? `the API on port ${options.port} did not answer /healthz in time` : `the API on port ${options.port} exited with ${exitCode} before it answered /healthz`);
}
