import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { isRunning, readPidFile, signalGroup, writePidFile, type PidRecord } from '../../contracts/pid-file.ts';
import { join, resolve } from 'node:path';
import type { Knex } from 'knex';
import type { Logger } from '../log/logger.ts';
import type { Allocation, InstanceForProvisioner, Provisioner } from './provisioner.ts';
import { freePort } from '../../lib/free-port.ts';
import { compiled, projectRoot } from '../../lib/project-root.ts';

/**
 * The agent and the sample programs run as the API does: compiled from dist/ under `npm start`
 * (no TypeScript loader in every agent: less memory, faster start), from the sources through
 * tsx otherwise.
 */
const loaderArgs: string[] = compiled ? [] : ['--import', import.meta.resolve('tsx')];
const program = (source: string): string => (compiled ? join(projectRoot, 'dist', source.replace(/\.ts$/, '.js')) : join(projectRoot, source));
const nodeCommand = (source: string): string => [process.execPath, ...loaderArgs, program(source)].map((word) => `"${word}"`).join(' ');
const agentEntry = program('src/agent/main.ts');

/** The sample game server, so a fresh install has something real to host. */
export const sampleGameCommand = nodeCommand('src/agent/sample/game-server.ts');

/** Sample programs for templates that name none: the game server, an IDE stand-in, an idle dev workload. */
export const sampleCommands = {
  game: sampleGameCommand,
  ide: nodeCommand('src/agent/sample/ide-stand-in.ts'),
  devWorkload: `"${process.execPath}" -e "console.log('Dev container ready'); setInterval(() => {}, 1 << 30)"`,
  devReadyPattern: 'Dev container ready',
} as const;

interface AgentFiles {
  dir: string;
  port: number;
  token: string;
  agent: PidRecord | null;
}

/**
 * Runs a reference agent per instance as a child process on this machine: its own port,
 * data directory and token under DATA_DIR/instances/<id>. Agents are detached, so they
 * outlive an API restart and are simply polled again; one found dead is started again on
 * the same port with the same token. Everything about an agent is found from the instance
 * id alone, so a crash anywhere in provisioning can always be cleaned up.
 */
export class LocalProvisioner implements Provisioner {
  readonly name = 'local';

  constructor(
    private readonly dataDir: string,
    private readonly log: Logger,
  ) {}

  private dirOf(id: string): string {
    return resolve(this.dataDir, 'instances', id);
  }

  private read(id: string): AgentFiles | null {
    const dir = this.dirOf(id);
    if (!existsSync(join(dir, 'token')) || !existsSync(join(dir, 'agent.json'))) return null;
    const meta = readPidFile(join(dir, 'agent.json'));
    const port = Number(meta?.port ?? 0);
    return { dir, port, token: readFileSync(join(dir, 'token'), 'utf8').trim(), agent: meta };
  }

  private launch(id: string, files: Omit<AgentFiles, 'agent'>, spec: Record<string, unknown>): number {
    const command = typeof spec.command === 'string' ? spec.command : sampleGameCommand;
    const args = [
      ...loaderArgs,
      agentEntry,
      '--port',
      String(files.port),
      '--data-dir',
      join(files.dir, 'data'),
      '--backup-dir',
      join(files.dir, 'backups'),
      '--token-file',
      join(files.dir, 'token'),
      '--command',
      command,
    ];
    if (typeof spec.ready_pattern === 'string') args.push('--ready-pattern', spec.ready_pattern);
    else if (spec.command === undefined) args.push('--ready-pattern', 'Server ready');
    if (typeof spec.install_command === 'string') args.push('--install-command', spec.install_command);
    if (typeof spec.ide_command === 'string') args.push('--ide-command', spec.ide_command);
    if (spec.autostart === true) args.push('--autostart');
    const logFd = openSync(join(files.dir, 'agent.log'), 'a');
    // Never the API's environment: it holds DATABASE_URL, JWT_SECRET, ENCRYPTION_KEY and more.
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: process.env.LANG ?? 'C.UTF-8', HOME: files.dir };
    const child = spawn(process.execPath, args, { cwd: files.dir, detached: true, stdio: ['ignore', logFd, logFd], env });
    closeSync(logFd);
    child.unref();
    const pid = child.pid ?? 0;
    writePidFile(join(files.dir, 'agent.json'), pid, { port: files.port });
    this.log.info({ instance_id: id, pid, port: files.port }, 'started a local agent');
    return pid;
  }

  async allocate(instance: InstanceForProvisioner, _trx: Knex.Transaction): Promise<Allocation> {
    const existing = this.read(instance.id);
    if (existing && isRunning(existing.agent)) {
      return { baseUrl: `http://127.0.0.1:${existing.port}`, token: existing.token, data: { dir: existing.dir } };
    }
    const dir = this.dirOf(instance.id);
    mkdirSync(join(dir, 'data'), { recursive: true });
    const token = existing?.token ?? randomBytes(32).toString('base64url');
    writeFileSync(join(dir, 'token'), token, { mode: 0o600 });
    const port = existing?.port ?? (await freePort());
    this.launch(instance.id, { dir, port, token }, instance.spec);
    return { baseUrl: `http://127.0.0.1:${port}`, token, data: { dir } };
  }

  /**
   * Stops the agent, then whatever it ran (the workload and IDE are process groups of their
   * own and could outlive it), then removes the folder without blocking the event loop.
   */
  async release(instance: InstanceForProvisioner): Promise<void> {
    const dir = this.dirOf(instance.id);
    const files = this.read(instance.id);
    const agent = files?.agent ?? null;
    if (isRunning(agent)) {
      signalGroup(agent, 'SIGTERM');
      // The agent gives its workload 10 s to stop; wait a little longer than that.
      for (let i = 0; i < 150 && isRunning(agent); i += 1) await new Promise((r) => setTimeout(r, 100));
      signalGroup(agent, 'SIGKILL');
    }
    for (const name of ['workload.pid', 'ide.pid']) signalGroup(readPidFile(join(dir, name)), 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }

  /** Starts again the agents of live instances whose process is gone (a reboot, a kill). */
  async revive(instances: Array<{ id: string; spec: Record<string, unknown> }>): Promise<number> {
    let revived = 0;
    for (const instance of instances) {
      const files = this.read(instance.id);
      if (!files || isRunning(files.agent)) continue;
      this.launch(instance.id, files, instance.spec);
      revived += 1;
    }
    return revived;
  }
}

/**
 * SIGKILLs every local agent under `dataDir` with its workload and IDE (detached process groups
 * of their own): for a test or a fuzz stand that ends, failed or not, so none outlives it.
 */
export function killLocalAgents(dataDir: string): void {
  const root = join(dataDir, 'instances');
  if (!existsSync(root)) return;
  for (const id of readdirSync(root)) {
    for (const file of ['agent.json', 'workload.pid', 'ide.pid']) {
      const record = readPidFile(join(root, id, file));
      if (record) signalGroup(record, 'SIGKILL');
    }
  }
}
