import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
/** The loader by absolute URL: the workload runs in its data directory, where `tsx` would not resolve. */
export const sampleGameCommand = `"${process.execPath}" --import "${import.meta.resolve('tsx')}" "${join(root, 'src/agent/sample/game-server.ts')}"`;

export interface ReferenceAgent {
  baseUrl: string;
  token: string;
  dataDir: string;
  backupDir: string;
  child: ChildProcess;
  stop: () => Promise<void>;
}

/** The reference agent as a real child process, hosting the sample game server. */
export async function startReferenceAgent(extraArgs: string[] = []): Promise<ReferenceAgent> {
  const base = mkdtempSync(join(tmpdir(), 'panel-agent-'));
  const dataDir = join(base, 'data');
  const backupDir = join(base, 'backups');
  const token = randomBytes(24).toString('base64url');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/agent/main.ts', '--data-dir', dataDir, '--backup-dir', backupDir, `--token=${token}`, '--command', sampleGameCommand, '--ready-pattern', 'Server ready', ...extraArgs],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent did not start: ${err}`)), 30_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.includes('agent listening'));
      if (line) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      }
    });
    child.once('exit', (code) => reject(new Error(`agent exited with ${code}: ${err}`)));
  });
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    token,
    dataDir,
    backupDir,
    child,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
}
