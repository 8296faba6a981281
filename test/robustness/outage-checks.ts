import type { ExecutionContext } from 'ava';
import { livenessLockSpace } from '../../src/core/cluster/liveness-lock.ts';
import { call, waitForServer } from '../plugins/game/game-helpers.ts';
import type { OutageRun, Probe } from './outage-drive.ts';
import { consoleLine, metricsToken, type OutageStand } from './outage-stand.ts';

export interface OutageLimits {
  /** The first /readyz 503 within this of the outage's start. */
  refusedWithinMs: number;
  /** Requests started this long after the outage began answer within `quickMs`; earlier ones within `boundMs`. */
  settledAfterMs: number;
  quickMs: number;
  boundMs: number;
  /** Readiness and reads back within this of the database's return. */
  recoveredWithinMs: number;
}

const describe = (p: Probe): string => `${p.what} at ${p.startedAt} ms: ${p.status} ${p.code ?? ''} in ${p.ms} ms`;

async function jobRuns(stand: OutageStand, outcome: string, job?: string): Promise<number> {
  const res = await fetch(`${stand.api.url}/metrics`, { headers: { Authorization: `Bearer ${metricsToken}` } });
  const text = await res.text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('panel_job_runs_total{') || !line.includes(`outcome="${outcome}"`)) continue;
    if (job && !line.includes(`job="${job}"`)) continue;
    total += Number(line.split(' ').pop());
  }
  return total;
}

/** What must hold during and after any outage (docs/robustness.md#database-outages). */
export async function checkOutage(t: ExecutionContext, stand: OutageStand, run: OutageRun, limits: OutageLimits): Promise<void> {
  const { probes } = run;
  const exited = await Promise.race([stand.api.exited.then((c) => `exited ${c}`), Promise.resolve('running')]);
  if (exited !== 'running') t.log(`the API ${exited}; its last output:\n${stand.output().slice(-4_000)}`);
  const during = probes.filter((p) => p.startedAt >= run.beganAt && p.startedAt < run.backAt);
  t.log(
    `${probes.length} requests (${during.length} during the outage); first /readyz 503 ${run.firstRefusalAfterMs} ms after it began; ` +
      `slowest answer ${Math.max(...probes.map((p) => p.ms))} ms, slowest once settled ${Math.max(0, ...during.filter((p) => p.startedAt >= run.beganAt + limits.settledAfterMs).map((p) => p.ms))} ms; ` +
      `back: /readyz ${run.readyAfterMs} ms, reads ${run.readAfterMs} ms after the database; console ${run.consoleEchoed}/${run.consoleSent} and VNC ${run.vncEchoed}/${run.vncSent} echoed`,
  );

  // Every answer is a success or the precise 503 envelope: never a 500, never a dropped connection.
  const wrong = probes.filter((p) => !(p.status === 200 || p.status === 201 || (p.status === 503 && p.code === 'DATABASE_UNAVAILABLE')));
  if (wrong.length > 0)
    t.log(
      stand
        .output()
        .split('\n')
        .filter((l) => l.includes('unexpected error'))
        .slice(0, 3)
        .join('\n'),
    );
  t.deepEqual(wrong.map(describe), [], 'answers other than success or 503 DATABASE_UNAVAILABLE');
  t.true(
    during.some((p) => p.what === 'read' && p.status === 503),
    'reads were refused during the outage',
  );
  t.not(run.firstRefusalAfterMs, null, '/readyz said 503 during the outage');
  t.true((run.firstRefusalAfterMs ?? Infinity) <= limits.refusedWithinMs, `/readyz 503 after ${run.firstRefusalAfterMs} ms`);
  const slowSettled = during.filter((p) => p.startedAt >= run.beganAt + limits.settledAfterMs && p.ms > limits.quickMs);
  t.deepEqual(slowSettled.map(describe), [], `answers slower than ${limits.quickMs} ms once the outage was known`);
  const hung = probes.filter((p) => p.ms > limits.boundMs);
  t.deepEqual(hung.map(describe), [], `answers slower than ${limits.boundMs} ms`);
  t.true(run.readyAfterMs !== null && run.readyAfterMs <= limits.recoveredWithinMs, `/readyz back after ${run.readyAfterMs} ms`);
  t.true(run.readAfterMs !== null && run.readAfterMs <= limits.recoveredWithinMs, `reads back after ${run.readAfterMs} ms`);

  // The console socket opened before the outage stayed open and relayed every command.
  t.is(run.consoleEchoed, run.consoleSent, 'every console command was echoed while the database was away');
  t.true(run.consoleSent >= 3);
  const stillOpen = await Promise.race([stand.console.closed.then((c) => `closed ${c.code} ${c.reason}`), Promise.resolve('open')]);
  t.is(stillOpen, 'open');
  // So did the VNC viewer's stream, which needs no database once open.
  const viewerState = await Promise.race([stand.viewer.closed.then((c) => `closed ${c.code} ${c.reason}`), Promise.resolve('open')]);
  t.is(run.vncEchoed, run.vncSent, `every VNC payload came back while the database was away (each: ${run.vncOutcomes.join(', ')}; the viewer is ${viewerState})`);
  t.true(run.vncSent >= 3);
  t.is(viewerState, 'open');

  // Nothing acknowledged is lost; nothing refused is half there.
  const names = (await stand.query<{ username: string }>('SELECT username FROM users')).map((r) => r.username);
  const acknowledged = [...run.createdBefore, ...probes.filter((p) => p.what === 'create' && p.status === 201).map((p) => p.username as string)];
  t.deepEqual(
    acknowledged.filter((n) => !names.includes(n)),
    [],
    'acknowledged users missing',
  );
  const refused = probes.filter((p) => p.what === 'create' && p.status === 503).map((p) => p.username as string);
  t.true(refused.length > 0, 'some creates were refused');
  t.deepEqual(
    refused.filter((n) => names.includes(n)),
    [],
    'users created although the request answered 503',
  );

  // The console still relays after the outage; the event stream opened before is still fed (a
  // power action after the outage is heard on it); the poller, back at work, sees the server stop.
  stand.console.send({ type: 'command', command: `say ${run.name}-after-the-outage` });
  await stand.console.waitFor(consoleLine(`${run.name}-after-the-outage`), 10_000, 'the console after the outage');
  const lastBefore = Math.max(0, ...stand.events.events.map((e) => Number(e.id ?? 0)));
  t.is((await call(stand.endpoint, stand.user, 'POST', `/api/game/servers/${stand.serverId}/stop`)).status, 202);
  await stand.events.waitFor((e) => Number(e.id ?? 0) > lastBefore && e.event === 'instance.state' && e.data.includes('"status":"stopped"'), 15_000);
  await waitForServer(stand.endpoint, stand.user, stand.serverId, (s) => s.state.status === 'stopped', 'stopped after the outage', 15_000);

  // This replica listens again, beats again and holds a liveness lock again.
  const listening = await stand.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = 'panel' AND query = 'LISTEN panel_events'`);
  t.is(listening[0]?.n, 1, 'one LISTEN session');
  const replicas = await stand.query<{ lock_key: number; fresh: boolean; held: boolean }>(
    `SELECT r.lock_key, r.heartbeat_at > now() - interval '5 seconds' AS fresh,
            EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objsubid = 2 AND l.objid = r.lock_key::oid) AS held
       FROM replicas r`,
    [livenessLockSpace],
  );
  t.is(replicas.length, 1);
  t.like(replicas[0], { fresh: true, held: true });

  // Jobs paused (skipped their slots) and run again.
  t.true((await jobRuns(stand, 'skipped_database_down')) > 0, 'job slots were skipped while the database was away');
  const pollsBefore = await jobRuns(stand, 'ok', 'core.poll-agents');
  await new Promise((r) => setTimeout(r, 2_500));
  t.true((await jobRuns(stand, 'ok', 'core.poll-agents')) > pollsBefore, 'the poll job runs again');

  // The same process all along, with no crash logged.
  t.is(await Promise.race([stand.api.exited.then((c) => `exited ${c}`), Promise.resolve('running')]), 'running');
  const fatal = stand
    .output()
    .split('\n')
    .filter((l) => l.includes('"level":60') || l.includes('unhandled') || l.includes('uncaught'));
  t.deepEqual(fatal, []);
}
