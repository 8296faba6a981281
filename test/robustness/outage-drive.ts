import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { bearer, json } from '../helpers/auth.ts';
import { consoleLine, type OutageStand } from './outage-stand.ts';

/** One request sent while the database went away and came back; times are ms from the outage's start. */
export interface Probe {
  what: 'readyz' | 'read' | 'create';
  startedAt: number;
  ms: number;
  /** 0: no HTTP answer at all (the connection failed). */
  status: number;
  code: string | null;
  /** For creates: the username asked for. */
  username?: string;
}

export interface OutageRun {
  name: string;
  probes: Probe[];
  /** When the database went away, and came back. */
  beganAt: number;
  backAt: number;
  /** The first /readyz answered 503, ms after `beganAt`. */
  firstRefusalAfterMs: number | null;
  /** From `backAt` until /readyz, then an authenticated read, answered 200 again. */
  readyAfterMs: number | null;
  readAfterMs: number | null;
  /** Console commands sent over the already-open socket during the outage, and how many the game echoed. */
  consoleSent: number;
  consoleEchoed: number;
  /** Payloads sent by the VNC viewer during the outage, and how many came back whole. */
  vncSent: number;
  vncEchoed: number;
  /** Each VNC payload's fate, for the log when one goes missing: its round trip in ms, `late` (not back within 5 s) or `mismatch`. */
  vncOutcomes: string[];
  /** Usernames created (201) before the outage began. */
  createdBefore: string[];
}

interface Answer {
  status: number;
  code: string | null;
}

async function send(stand: OutageStand, what: Probe['what'], username: string): Promise<Answer> {
  const path = what === 'readyz' ? '/readyz' : what === 'read' ? `/api/game/servers/${stand.serverId}` : '/api/admin/users';
  const init =
    what === 'readyz'
      ? {}
      : what === 'read'
        ? bearer(stand.user.access_token)
        : bearer(stand.admin.access_token, json({ username, email: `${username}@example.com`, password: 'a-long-enough-password', role: 'user' }));
  try {
    const res = await fetch(`${stand.api.url}${path}`, { ...init, signal: AbortSignal.timeout(60_000) });
    const text = await res.text();
    let code: string | null = null;
    try {
      code = (JSON.parse(text) as { code?: string }).code ?? null;
    } catch {
      code = null;
    }
    return { status: res.status, code };
  } catch {
    return { status: 0, code: null };
  }
}

/**
 * Takes the database away with `begin`, keeps it away for `outageMs`, brings it back with `end`,
 * and meanwhile asks the API what a portal would: readiness and a read every 200 ms, a write
 * (a new user) every 700 ms, a console command and 4 KiB through the VNC viewer every 2 s over the sockets opened before. Runs
 * until readiness and reads answer 200 again (at most 30 s after `end`), then lets every
 * request in flight finish.
 */
export async function driveOutage(stand: OutageStand, scenario: { name: string; outageMs: number; begin(): Promise<void>; end(): Promise<void> }): Promise<OutageRun> {
  const createdBefore: string[] = [];
  for (let i = 0; i < 3; i += 1) {
    const username = `${scenario.name}before${i}`;
    const answer = await send(stand, 'create', username);
    if (answer.status !== 201) throw new Error(`a create before the outage answered ${answer.status} ${answer.code}`);
    createdBefore.push(username);
  }
  const probes: Probe[] = [];
  const inFlight = new Set<Promise<void>>();
  const t0 = performance.now();
  const now = (): number => Math.round(performance.now() - t0);
  let probing = true;
  let created = 0;
  const fire = (what: Probe['what']): void => {
    const username = what === 'create' ? `${scenario.name}during${created++}` : '';
    const startedAt = now();
    const done = send(stand, what, username).then((answer) => {
      probes.push({ what, startedAt, ms: now() - startedAt, ...answer, ...(what === 'create' ? { username } : {}) });
    });
    inFlight.add(done);
    void done.finally(() => inFlight.delete(done));
  };
  const loop = async (every: number, what: Probe['what']): Promise<void> => {
    while (probing) {
      fire(what);
      await sleep(every);
    }
  };
  let consoleSent = 0;
  let consoleEchoed = 0;
  const consoleLoop = (async () => {
    while (probing) {
      const text = `${scenario.name}-console-${consoleSent}`;
      consoleSent += 1;
      stand.console.send({ type: 'command', command: `say ${text}` });
      const echoed = await stand.console.waitFor(consoleLine(text), 5_000, text).then(
        () => true,
        () => false,
      );
      if (echoed) consoleEchoed += 1;
      await sleep(2_000);
    }
  })();
  let vncSent = 0;
  let vncEchoed = 0;
  const vncOutcomes: string[] = [];
  const vncLoop = (async () => {
    // The simulated VNC server echoes: every payload comes back, after the 12 bytes of its version.
    let expected = stand.viewer.received().length;
    while (probing) {
      const payload = randomBytes(4_096);
      vncSent += 1;
      expected += payload.length;
      stand.viewer.ws.send(payload, { binary: true });
      const sentAt = now();
      const got = await stand.viewer.waitBytes(expected, 5_000).catch(() => null);
      const whole = got?.subarray(expected - payload.length, expected).equals(payload) ?? false;
      if (whole) vncEchoed += 1;
      vncOutcomes.push(got === null ? 'late' : whole ? `${Math.round(now() - sentAt)} ms` : 'mismatch');
      await sleep(2_000);
    }
  })();
  const loops = [loop(200, 'readyz'), loop(200, 'read'), loop(700, 'create')];

  await sleep(300);
  const beganAt = now();
  await scenario.begin();
  await sleep(scenario.outageMs);
  const backAt = now();
  await scenario.end();
  const isBack = (what: Probe['what']) => probes.some((p) => p.what === what && p.startedAt >= backAt && p.status === 200);
  for (const deadline = Date.now() + 30_000; Date.now() < deadline && !(isBack('readyz') && isBack('read'));) await sleep(100);
  await sleep(500);
  probing = false;
  await Promise.all([...loops, consoleLoop, vncLoop]);
  await Promise.all([...inFlight]);

  const backOf = (what: Probe['what']): number | null => {
    const first = probes.filter((p) => p.what === what && p.startedAt >= backAt && p.status === 200).sort((a, b) => a.startedAt + a.ms - (b.startedAt + b.ms))[0];
    return first ? first.startedAt + first.ms - backAt : null;
  };
  const refusals = probes.filter((p) => p.what === 'readyz' && p.status === 503).map((p) => p.startedAt + p.ms);
  return {
    name: scenario.name,
    probes,
    beganAt,
    backAt,
    firstRefusalAfterMs: refusals.length > 0 ? Math.min(...refusals) - beganAt : null,
    readyAfterMs: backOf('readyz'),
    readAfterMs: backOf('read'),
    consoleSent,
    consoleEchoed,
    vncSent,
    vncEchoed,
    vncOutcomes,
    createdBefore,
  };
}
