import test from 'ava';
import { startOutageStand, type OutageStand } from './outage-stand.ts';
import { driveOutage } from './outage-drive.ts';
import { checkOutage } from './outage-checks.ts';

/**
 * A real restart of the API's PostgreSQL server (`pg_ctl stop -m fast`, 5 s down, start): every
 * session ends with 57P01 and connections are refused meanwhile. The API, a process of its own,
 * must answer 503 at once, keep its sockets, and come back by itself (docs/robustness.md#database-outages).
 * On both runs of the suite: the server is a private one, since the shared one may not stop.
 */
let stand: OutageStand;

test.before(async () => {
  stand = await startOutageStand({ viaProxy: false });
});

test.after.always(async () => {
  await stand?.close();
});

test.serial('a PostgreSQL restart: 503 at once, sockets kept, back by itself, nothing acknowledged lost', async (t) => {
  const run = await driveOutage(stand, {
    name: 'restart',
    outageMs: 5_000,
    begin: () => stand.postgres.stop(),
    end: () => stand.postgres.start(),
  });
  // The server refuses connections outright: every answer is quick, with nothing to wait out.
  await checkOutage(t, stand, run, { refusedWithinMs: 2_000, settledAfterMs: 0, quickMs: 2_000, boundMs: 2_000, recoveredWithinMs: 5_000 });
});

test.serial('every session of the API ended by pg_terminate_backend: it reconnects, listens and holds its lock again', async (t) => {
  const before = await stand.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = 'panel'`);
  t.true((await stand.postgres.terminateBackends('panel')) >= 3, 'the pool, LISTEN, the lock and the health check had sessions');
  const old = new Set(before.map((r) => r.pid));
  const began = performance.now();
  for (let healed = false; !healed;) {
    t.true(performance.now() - began < 10_000, 'back within 10 s');
    if (performance.now() - began >= 10_000) return;
    const read = await fetch(`${stand.api.url}/api/game/servers/${stand.serverId}`, { headers: { Authorization: `Bearer ${stand.user.access_token}` } });
    t.true(read.status === 200 || (read.status === 503 && ((await read.json()) as { code: string }).code === 'DATABASE_UNAVAILABLE'), `a read answered ${read.status}`);
    const state = await stand.query<{ listening: number; held: boolean }>(
      `SELECT (SELECT count(*)::int FROM pg_stat_activity WHERE datname = 'panel' AND query = 'LISTEN panel_events' AND NOT (pid = ANY($1))) AS listening,
              EXISTS (SELECT 1 FROM replicas r JOIN pg_locks l ON l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND l.objid = r.lock_key::oid AND NOT (l.pid = ANY($1))) AS held`,
      [[...old]],
    );
    healed = read.status === 200 && state[0]?.listening === 1 && state[0]?.held === true;
    if (!healed) await new Promise((r) => setTimeout(r, 200));
  }
  t.log(`reads, a new LISTEN session and a new liveness lock ${Math.round(performance.now() - began)} ms after the sessions were ended`);
  t.is(await Promise.race([stand.api.exited.then((c) => `exited ${c}`), Promise.resolve('running')]), 'running');
});
