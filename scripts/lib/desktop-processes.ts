import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';

/**
 * A process of a desktop, as the agent remembers it across its own restarts: the pid alone
 * could be reused by another program, so the kernel's start time (from /proc) goes with it.
 */
export interface ProcessRef {
  pid: number;
  startTime: string;
}

/** The kernel's start time of a live process, or null when it is gone (or a zombie). */
export function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return null;
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

export function isAlive(ref: ProcessRef | null): boolean {
  return ref !== null && startTimeOf(ref.pid) === ref.startTime;
}

/**
 * Starts a program in a process group of its own, detached from the agent, with its output
 * appended to the session's log file: it outlives an agent restart, and the next agent adopts it.
 */
export function spawnDetached(command: string, args: readonly string[], options: { env: Record<string, string>; cwd: string; logFd: number }): ProcessRef {
  const child = spawn(command, args, { env: options.env, cwd: options.cwd, detached: true, stdio: ['ignore', options.logFd, options.logFd] });
  child.on('error', () => {}); // a missing binary: the caller sees the process gone
  child.unref();
  const pid = child.pid;
  if (pid === undefined) return { pid: -1, startTime: 'never-started' };
  return { pid, startTime: startTimeOf(pid) ?? 'ended-at-once' };
}

/** SIGTERM to the process group, SIGKILL after `graceMs` if anything of it is still there. */
export async function stopGroup(ref: ProcessRef | null, graceMs = 3000): Promise<void> {
  if (!ref || !isAlive(ref)) return;
  const signal = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-ref.pid, sig);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(ref) && Date.now() < deadline) await sleep(50);
  signal('SIGKILL');
  while (isAlive(ref)) await sleep(20);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A TCP port free on 127.0.0.1 right now (Xvnc is told to listen on it). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** An X display number no X server on this machine holds (no lock file, no socket). */
export function freeDisplay(taken: ReadonlySet<number>, from = 20, to = 999): number | null {
  for (let n = from; n <= to; n += 1) {
    if (taken.has(n)) continue;
    if (existsSync(`/tmp/.X${n}-lock`) || existsSync(`/tmp/.X11-unix/X${n}`)) continue;
    return n;
  }
  return null;
}

/** Whether a VNC server answers on the port with an RFB greeting ("RFB 003.008\n"). */
export function rfbGreets(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let got = Buffer.alloc(0);
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= 12) done(/^RFB \d{3}\.\d{3}\n$/.test(got.subarray(0, 12).toString('latin1')));
    });
    socket.on('error', () => done(false));
    socket.on('close', () => done(false));
  });
}

/** Looks a program up in PATH the way a shell would; null when it is not installed. */
export function findProgram(name: string, path: string): string | null {
  if (name.includes('/')) return existsSync(name) ? name : null;
  for (const dir of path.split(':')) {
    if (dir !== '' && existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return null;
}
