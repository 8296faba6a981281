import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { childPids } from './proc-cpu.ts';
import { freePort } from '../../src/lib/free-port.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const metricsToken = 'footprint-bench-metrics';

export interface ProcessMemory {
  pid: number;
  command: string;
  rss_mib: number;
  /** Anonymous memory: the JavaScript heap, WebAssembly memory, malloc; what the process itself allocated. */
  anon_mib: number;
  /** File-backed pages: the node binary, shared libraries, mapped files (shared with other processes). */
  file_mib: number;
}

export interface StartFigures {
  /** From spawning `npm start` to the first 200 on /healthz. */
  boot_ms: number;
  /** CPU the server tree used until then (user + system): what boot costs, less sensitive than wall time to a busy machine. */
  boot_cpu_ms: number;
  /** VmRSS of the server process and its children (not npm, not the shell between them), once idle. */
  idle_rss_mib: number;
  processes: ProcessMemory[];
  /** The server's own view from /metrics at the same moment (V8 heap, external memory incl. WebAssembly). */
  heap_used_mib: number | null;
  heap_total_mib: number | null;
  external_mib: number | null;
}

const mib = (kib: number): number => Math.round((kib / 1024) * 10) / 10;

function status(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const at = line.indexOf(':');
    if (at > 0) out[line.slice(0, at)] = line.slice(at + 1).trim();
  }
  return out;
}

const kib = (value: string | undefined): number => Number((value ?? '0').replace(/\s*kB$/, ''));

/**
 * User + system CPU of a process and of its children that have exited (cutime, cstime: the
 * child that creates the embedded database), in clock ticks of 1/100 s; 0 once it is gone.
 */
function cpuMsWithExitedChildren(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0) * 10;
  } catch {
    return 0;
  }
}

/** Every process below `pid`, depth first. */
function descendants(pid: number): number[] {
  return childPids(pid).flatMap((child) => [child, ...descendants(child)]);
}

/** The server and whatever it started: every node (or other) process below npm, shells left out. */
export function serverMemory(npmPid: number): ProcessMemory[] {
  const out: ProcessMemory[] = [];
  for (const pid of descendants(npmPid)) {
    try {
      const s = status(pid);
      if (s.Name === 'sh' || s.Name === 'bash' || s.Name === 'dash') continue;
      const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
      out.push({ pid, command, rss_mib: mib(kib(s.VmRSS)), anon_mib: mib(kib(s.RssAnon)), file_mib: mib(kib(s.RssFile)) });
    } catch {
      // gone between the listing and the read
    }
  }
  return out;
}

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

function metric(text: string, name: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Math.round((Number(line.split(' ')[1]) / 1048576) * 10) / 10 : null;
}

export interface StartOptions {
  env: Record<string, string>;
  /** How long the server idles after /healthz first answers before its memory is read. */
  idleMs: number;
  timeoutMs: number;
  log: (line: string) => void;
}

/**
 * One production start: `npm start` in its own process group, /healthz polled every 20 ms from
 * the spawn, memory read after the idle wait, then SIGTERM and a wait for a clean exit.
 */
export async function measureStart(options: StartOptions): Promise<StartFigures> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn('npm', ['start', '--silent'], {
    cwd: root,
    env: { ...process.env, ...options.env, HOST: '127.0.0.1', PORT: String(port), METRICS_TOKEN: metricsToken, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) => child.once('exit', (code) => ((exitCode = code), resolve())));
  const base = `http://127.0.0.1:${port}`;
  try {
    while (!(await healthy(`${base}/healthz`))) {
      if (exitCode !== undefined) throw new Error(`npm start exited with ${exitCode} before /healthz answered:\n${stderr}`);
      if (performance.now() - started > options.timeoutMs) throw new Error(`/healthz did not answer within ${options.timeoutMs} ms:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const bootMs = Math.round(performance.now() - started);
    const bootCpuMs = serverMemory(child.pid as number).reduce((sum, p) => sum + cpuMsWithExitedChildren(p.pid), 0);
    options.log(`  /healthz after ${bootMs} ms (${bootCpuMs} ms CPU); idling ${options.idleMs / 1000} s`);
    await new Promise((r) => setTimeout(r, options.idleMs));
    const processes = serverMemory(child.pid as number);
    const metrics = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } }).then((r) => r.text());
    return {
      boot_ms: bootMs,
      boot_cpu_ms: bootCpuMs,
      idle_rss_mib: Math.round(processes.reduce((sum, p) => sum + p.rss_mib, 0) * 10) / 10,
      processes,
      heap_used_mib: metric(metrics, 'nodejs_heap_size_used_bytes'),
      heap_total_mib: metric(metrics, 'nodejs_heap_size_total_bytes'),
      external_mib: metric(metrics, 'nodejs_external_memory_bytes'),
    };
  } finally {
    if (exitCode === undefined) {
      // The server itself gets SIGTERM (a clean drain, the database closed); npm follows it out.
      const servers = serverMemory(child.pid as number).filter((p) => /main\.(ts|js)|start\.mjs/.test(p.command));
      if (servers.length === 0) process.kill(-(child.pid as number), 'SIGTERM');
      for (const p of servers) process.kill(p.pid, 'SIGTERM');
      const killer = setTimeout(() => process.kill(-(child.pid as number), 'SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
    }
  }
}
