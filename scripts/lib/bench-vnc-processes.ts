import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** A helper process of the bench: its pid (for CPU figures) and how to stop it. */
export interface BenchProcess {
  pid: number;
  stop(): Promise<void>;
}

/**
 * Spawns `node --import tsx <script> …args` and resolves with the first stdout JSON line that
 * `ready` accepts. Its stderr passes through; an exit before that line rejects.
 */
function spawnUntil<T>(
  script: string,
  args: string[],
  env: Record<string, string>,
  nodeArgs: string[],
  ready: (line: Record<string, unknown>) => T | undefined,
  timeoutMs = 30_000,
): Promise<{ child: ChildProcess; value: T }> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} was not ready within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code ?? signal}) before it was ready`));
    });
    let found = false;
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (found) return;
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      const value = ready(parsed);
      if (value === undefined) return;
      found = true;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolve({ child, value });
    });
  });
}

const stopper = (child: ChildProcess) => (): Promise<void> =>
  new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(kill);
      done();
    });
    child.kill('SIGTERM');
  });

/**
 * The simulated agent as its own process (npm run streamspace-agent), as an agent runs in
 * production: its VNC servers and its framing do not share the bench's event loop.
 */
export async function startSimAgentProcess(o: {
  url: string;
  agentId: string;
  key: string;
  mode: 'echo' | 'pattern';
  region: string;
  maxSessions: number;
  nodeArgs?: string[];
}): Promise<BenchProcess> {
  const { child } = await spawnUntil(
    'scripts/streamspace-agent.ts',
    ['--url', o.url, '--agent-id', o.agentId, '--mode', o.mode, '--region', o.region, '--max-sessions', String(o.maxSessions), '--delay-ms', '0', '--no-reconnect'],
    { STREAMSPACE_AGENT_KEY: o.key },
    o.nodeArgs ?? [],
    (line) => (line.msg === 'registered' ? true : undefined),
  );
  return { pid: child.pid as number, stop: stopper(child) };
}

/** The plain WebSocket-to-TCP bridge (bench-vnc-bridge.ts) as its own process, as websockify would run. */
export async function startVncBridgeProcess(vncPort: number, nodeArgs: string[] = []): Promise<BenchProcess & { url: string }> {
  const { child, value } = await spawnUntil('scripts/lib/bench-vnc-bridge.ts', [String(vncPort)], {}, nodeArgs, (line) => (typeof line.url === 'string' ? line.url : undefined));
  return { pid: child.pid as number, url: value, stop: stopper(child) };
}
