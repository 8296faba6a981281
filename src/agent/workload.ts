import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { readPidFile, signalGroup, writePidFile } from '../contracts/pid-file.ts';
import { dirname, join } from 'node:path';
import { EventEmitter } from 'node:events';
import type { WorkloadState } from '../contracts/agent.ts';
import { ConsoleBuffer } from './console-buffer.ts';

/** What a workload sees of the environment: enough to run, nothing of the agent's or its host's secrets. */
export function workloadEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: process.env.LANG ?? 'C.UTF-8', HOME: home, TERM: 'dumb', ...extra };
}

export interface WorkloadOptions {
  /** Shell command line of the workload, run in the data directory. */
  command: string;
  /** Optional one-time install command; while it runs the state is `installing`. */
  installCommand: string | null;
  dataDir: string;
  /** A line of output matching this marks the workload running; without it, being alive for a moment does. */
  readyPattern: RegExp | null;
  stopTimeoutMs: number;
}

/**
 * The instance's workload as a child process. States follow the contract: installing,
 * stopped, starting, running, stopping, and crashed when it exits without being asked to.
 */
export class Workload extends EventEmitter {
  readonly console = new ConsoleBuffer(1000);
  private child: ChildProcess | null = null;
  private current: WorkloadState = 'installing';
  private changedAt = new Date();
  private startedAt: number | null = null;
  private stopRequested = false;

  constructor(private readonly options: WorkloadOptions) {
    super();
  }

  get state(): WorkloadState {
    return this.current;
  }

  get since(): Date {
    return this.changedAt;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  get uptimeS(): number {
    return this.startedAt === null ? 0 : Math.floor((Date.now() - this.startedAt) / 1000);
  }

  /** True while a start or stop is under way: another power action must wait for it. */
  get transitioning(): boolean {
    return this.current === 'starting' || this.current === 'stopping';
  }

  private move(state: WorkloadState): void {
    if (state === this.current) return;
    this.current = state;
    this.changedAt = new Date();
    this.console.push(`[agent] state ${state}`);
    this.emit('state', state);
  }

  /** Beside the data directory (a restore replaces that), so a restarted agent finds a workload it left behind. */
  private get pidFile(): string {
    return join(dirname(this.options.dataDir), 'workload.pid');
  }

  /** A workload left running by a previous agent process that was killed: stop it before anything else. */
  private reapOrphan(): void {
    signalGroup(readPidFile(this.pidFile), 'SIGKILL');
    rmSync(this.pidFile, { force: true });
  }

  /** Runs the install command once, then settles in `stopped`. */
  async install(): Promise<void> {
    this.reapOrphan();
    this.move('installing');
    if (this.options.installCommand) {
      const code = await this.run(this.options.installCommand);
      if (code !== 0) {
        this.console.push(`[agent] install failed with exit code ${code}`);
        this.move('crashed');
        return;
      }
    }
    this.move('stopped');
  }

  private run(command: string): Promise<number> {
    return new Promise((resolve) => {
      const child = spawn(command, { cwd: this.options.dataDir, shell: true, stdio: ['ignore', 'pipe', 'pipe'], env: workloadEnv(this.options.dataDir) });
      child.stdout?.on('data', (d: Buffer) => this.console.write(d.toString()));
      child.stderr?.on('data', (d: Buffer) => this.console.write(d.toString()));
      child.on('error', () => resolve(127));
      child.on('exit', (code) => resolve(code ?? 1));
    });
  }

  start(): void {
    this.stopRequested = false;
    this.move('starting');
    const child = spawn(this.options.command, { cwd: this.options.dataDir, shell: true, stdio: ['pipe', 'pipe', 'pipe'], detached: true, env: workloadEnv(this.options.dataDir) });
    this.child = child;
    this.startedAt = Date.now();
    if (child.pid) writePidFile(this.pidFile, child.pid);
    let running = false;
    const markRunning = () => {
      if (running || this.child !== child) return;
      running = true;
      this.move('running');
    };
    // The ready pattern is matched on whole lines, so a marker split across two chunks is still seen.
    const unsubscribe = this.console.subscribe((line) => {
      if (!this.options.readyPattern || this.options.readyPattern.test(line)) markRunning();
    });
    const onOutput = (d: Buffer) => this.console.write(d.toString());
    child.stdout?.on('data', onOutput);
    child.stderr?.on('data', onOutput);
    child.stdin?.on('error', () => undefined);
    if (!this.options.readyPattern) setTimeout(markRunning, 300).unref();
    child.on('error', (err) => this.console.push(`[agent] could not start: ${err.message}`));
    child.on('exit', (code, signal) => {
      unsubscribe();
      if (this.child !== child) return;
      this.child = null;
      this.startedAt = null;
      rmSync(this.pidFile, { force: true });
      this.console.push(`[agent] workload exited (${signal ?? `code ${code}`})`);
      this.move(this.stopRequested ? 'stopped' : 'crashed');
    });
  }

  /** SIGTERM to the process group, SIGKILL after the timeout; resolves when it has exited. */
  stop(): Promise<void> {
    const child = this.child;
    if (!child) {
      this.move('stopped');
      return Promise.resolve();
    }
    this.stopRequested = true;
    this.move('stopping');
    return new Promise((resolve) => {
      const kill = (signal: NodeJS.Signals) => {
        try {
          if (child.pid) process.kill(-child.pid, signal);
        } catch {
          child.kill(signal);
        }
      };
      const timer = setTimeout(() => kill('SIGKILL'), this.options.stopTimeoutMs);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      kill('SIGTERM');
    });
  }

  send(command: string): boolean {
    if (this.current !== 'running' || !this.child?.stdin?.writable) return false;
    this.child.stdin.write(`${command}\n`);
    return true;
  }
}
