import { userInfo } from 'node:os';
import { freeDisplay, freeLoopbackPort, isAlive, rfbGreets, sleep, spawnDetached, stopGroup, type ProcessRef } from './desktop-processes.ts';
import type { DesktopSpec } from './desktop-spec.ts';

export interface LaunchedDesktop {
  display: number;
  port: number;
  xvnc: ProcessRef;
  app: ProcessRef;
}

export interface LaunchOptions {
  spec: DesktopSpec;
  home: string;
  logFd: number;
  /** Displays our other sessions hold (their lock files may not be written yet). */
  takenDisplays: ReadonlySet<number>;
  /** PATH for the session (the agent's own, without the rest of its environment). */
  path: string;
  /** Agent lines for the session's log. */
  log: (line: string) => void;
  xvncBinary?: string;
  readyTimeoutMs?: number;
}

/** Attempts on another display and port when Xvnc could not take the one we picked (someone else won the race). */
const attempts = 5;

/**
 * The environment of a session's processes: what X programs need and the template's own
 * variables, never the agent's (its key is in STREAMSPACE_AGENT_KEY).
 */
export function sessionEnvironment(spec: DesktopSpec, home: string, display: number, path: string): Record<string, string> {
  const user = userInfo().username;
  return { PATH: path, HOME: home, USER: user, LOGNAME: user, SHELL: '/bin/sh', LANG: 'C.UTF-8', DISPLAY: `:${display}`, ...spec.environment };
}

/**
 * Starts Xvnc on a free display, listening on 127.0.0.1 only, waits until it answers RFB,
 * then starts the template's command in that display. Each has a process group of its own.
 * Throws with the reason (and leaves nothing running) when either does not come up.
 */
export async function launchDesktop(options: LaunchOptions): Promise<LaunchedDesktop> {
  const { spec, home, logFd, path, log } = options;
  let lastProblem = 'no free X display';
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    const display = freeDisplay(options.takenDisplays);
    if (display === null) break;
    const port = await freeLoopbackPort();
    const env = sessionEnvironment(spec, home, display, path);
    const args = [
      `:${display}`,
      '-geometry',
      spec.geometry,
      '-depth',
      String(spec.depth),
      '-rfbport',
      String(port),
      '-localhost',
      '-interface',
      '127.0.0.1',
      '-SecurityTypes',
      'None',
      '-AlwaysShared',
      '-nolisten',
      'tcp',
      '-desktop',
      spec.name,
    ];
    log(`starting Xvnc on display :${display}, 127.0.0.1:${port}, ${spec.geometry}x${spec.depth}`);
    const xvnc = spawnDetached(options.xvncBinary ?? 'Xvnc', args, { env, cwd: home, logFd });
    const ready = await waitForRfb(xvnc, port, options.readyTimeoutMs ?? 10_000);
    if (ready !== 'ready') {
      await stopGroup(xvnc);
      lastProblem =
        ready === 'exited'
          ? `Xvnc exited while starting on display :${display} (its lines above say why)`
          : `Xvnc did not answer RFB on 127.0.0.1:${port} within ${options.readyTimeoutMs ?? 10_000} ms`;
      log(lastProblem);
      if (ready === 'timeout') break;
      continue;
    }
    log(`Xvnc accepts RFB connections on 127.0.0.1:${port}; starting: ${spec.command}`);
    const app = spawnDetached('/bin/sh', ['-c', spec.command], { env, cwd: home, logFd });
    // A command that cannot start at all (a typo, a missing library) ends within moments.
    await sleep(200);
    if (!isAlive(app)) {
      await stopGroup(xvnc);
      throw new Error(`the session's command exited at once: ${spec.command} (its lines above say why)`);
    }
    return { display, port, xvnc, app };
  }
  throw new Error(lastProblem);
}

async function waitForRfb(xvnc: ProcessRef, port: number, timeoutMs: number): Promise<'ready' | 'exited' | 'timeout'> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(xvnc)) return 'exited';
    if (await rfbGreets(port, 500)) return 'ready';
    await sleep(50);
  }
  return 'timeout';
}
