import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** What one bench left: its last JSON line, or why there is none. */
export type BenchOutcome =
  { ok: true; figures: Record<string, unknown>; seconds: number } | { ok: false; exitCode: number | null; signal: string | null; reason: string; stderrTail: string; seconds: number };

const tailLines = 20;
const lastLines = (text: string, n: number): string => text.trimEnd().split('\n').slice(-n).join('\n');

/**
 * Runs scripts/bench-<name>.ts as a child process, its output passed through as it comes, and
 * parses the last line of its stdout as JSON. The child leads its own process group, so a
 * timeout or `stopAll` ends it with whatever it started (the API, nginx, agents) too.
 */
export function runBench(name: string, args: string[], timeoutS: number, onStart: (stop: () => void) => void): Promise<BenchOutcome> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', `scripts/bench-${name}.ts`, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    process.stdout.write(c);
    stdout += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    process.stderr.write(c);
    // Only the end is reported; keep a bounded amount.
    stderr = (stderr + c.toString()).slice(-16_384);
  });
  let timedOut = false;
  let kill: NodeJS.Timeout | undefined;
  const stop = (): void => {
    if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      return;
    }
    // A bench cleans up after SIGTERM (its API child, temp dirs); what is still there after 20 s is killed.
    kill ??= setTimeout(() => {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // already gone
      }
    }, 20_000);
  };
  onStart(stop);
  const timer = setTimeout(() => {
    timedOut = true;
    process.stderr.write(`bench:${name} is still running after ${timeoutS} s: stopping it\n`);
    stop();
  }, timeoutS * 1000);
  return new Promise((resolve) => {
    child.once('error', (err) => {
      stderr += String(err);
    });
    child.once('close', (exitCode, signal) => {
      clearTimeout(timer);
      if (kill) clearTimeout(kill);
      const seconds = Number(((performance.now() - started) / 1000).toFixed(1));
      const fail = (reason: string): void => resolve({ ok: false, exitCode, signal, reason, stderrTail: lastLines(stderr, tailLines), seconds });
      if (timedOut) return fail(`timed out after ${timeoutS} s`);
      if (exitCode !== 0) return fail(signal ? `killed by ${signal}` : `exit code ${exitCode}`);
      const last = lastLines(stdout, 1);
      try {
        const figures = JSON.parse(last) as unknown;
        if (typeof figures !== 'object' || figures === null || Array.isArray(figures)) throw new Error('not an object');
        resolve({ ok: true, figures: figures as Record<string, unknown>, seconds });
      } catch {
        fail(`its last line of output is not a JSON object: ${last.slice(0, 200)}`);
      }
    });
  });
}
