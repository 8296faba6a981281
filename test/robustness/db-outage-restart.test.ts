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
