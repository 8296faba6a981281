import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { workloadEnv } from './workload.ts';
import { writePidFile } from '../contracts/pid-file.ts';
import { freePort } from '../lib/free-port.ts';

/** Resolves once something accepts connections on the port, or false after `ms`. */
async function listening(port: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) return true;
    await sleep(50);
  }
  return false;
}

/**
 * The IDE of a dev instance (code-server with --auth none in production): started on a
 * port of its own, reported in /status, reachable only by the API's proxy.
 */
export class CodeServer {
  private child: ChildProcess | null = null;
  private currentPort: number | null = null;

  constructor(
    private readonly command: string,
    private readonly cwd: string,
    /** Where the IDE's pid is kept, so whoever cleans up the instance can stop it. */
    private readonly pidFile: string,
  ) {}

  /** Set once the IDE accepts connections: until then it is reported stopped, so nobody is sent to a closed port. */
  private listening = false;

  get state(): 'running' | 'stopped' {
    return this.child && this.listening ? 'running' : 'stopped';
  }

  get port(): number | null {
    return this.currentPort;
  }

  async start(): Promise<void> {
    if (this.child) return;
    const port = await freePort();
    const child = spawn(this.command, { cwd: this.cwd, shell: true, stdio: 'ignore', detached: true, env: workloadEnv(this.cwd, { PORT: String(port) }) });
    child.on('error', () => undefined);
    child.on('exit', () => {
      if (this.child === child) {
        this.child = null;
        this.currentPort = null;
        this.listening = false;
      }
    });
    this.child = child;
    this.currentPort = port;
    if (child.pid) writePidFile(this.pidFile, child.pid);
    // "running" means reachable: the answer to start waits until the IDE accepts connections.
    const up = await listening(port, 30_000);
    if (this.child !== child) return; // stopped meanwhile
    if (!up) {
      await this.stop();
      throw new Error('the IDE did not start listening within 30 s');
    }
    this.listening = true;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    this.currentPort = null;
    this.listening = false;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      try {
        if (child.pid) process.kill(-child.pid, 'SIGTERM');
      } catch {
        resolve();
      }
      setTimeout(() => {
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
        resolve();
      }, 5_000).unref();
    });
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}
