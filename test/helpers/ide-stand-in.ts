import { spawn, type ChildProcess } from 'node:child_process';
import { sampleCommands } from '../../src/core/instances/local-provisioner.ts';
import { freePort } from '../../src/lib/free-port.ts';

/** The IDE stand-in as a real child process on a free loopback port. */
export async function startStandIn(): Promise<{ port: number; url: string; stop(): Promise<void>; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(sampleCommands.ide, { shell: true, env: { PATH: process.env.PATH ?? '', PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('IDE stand-in on')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the IDE stand-in exited with ${code}`)));
  });
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        try {
          process.kill(-(child.pid as number), 'SIGTERM');
        } catch {
          resolve();
        }
      }),
  };
}
