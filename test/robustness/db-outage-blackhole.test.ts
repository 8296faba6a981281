import test from 'ava';
import { startOutageStand, type OutageStand } from './outage-stand.ts';
import { driveOutage } from './outage-drive.ts';
import { checkOutage } from './outage-checks.ts';

/**
 * The network path to PostgreSQL drops everything for 30 s (a proxy that stops forwarding, the
 * connections left open): nothing fails by itself, so only the API's own timeouts and health
 * check stand between a request and a hang (docs/robustness.md#database-outages).
 */
let stand: OutageStand;

test.before(async () => {
  stand = await startOutageStand({ viaProxy: true });
});

test.after.always(async () => {
  await stand?.close();
});

test.serial('30 s of a blackholed database: 503 within 2 s once known, no hang, back by itself, nothing acknowledged lost', async (t) => {
  const proxy = stand.proxy;
  if (!proxy) return t.fail('the stand has no proxy');
  const run = await driveOutage(stand, {
    name: 'blackhole',
    outageMs: 30_000,
    begin: async () => proxy.block(),
    end: async () => proxy.unblock(),
  });
  // Requests that reach the database before the health check's two missed pings (at most about
  // 2 s: 500 + 750 + 750 ms; 1.7-1.9 s measured) wait out database.query_timeout_ms (15 s) + 1 s;
  // everything after answers at once. 3 s leaves room for a loaded CI machine's late timers.
  await checkOutage(t, stand, run, { refusedWithinMs: 3_000, settledAfterMs: 3_000, quickMs: 2_000, boundMs: 18_000, recoveredWithinMs: 5_000 });
});
