import test from 'ava';
import type { Knex } from 'knex';
import { SharedTokenBuckets } from '../../../src/core/cluster/shared-token-buckets.ts';
import { connectPostgres, type Database } from '../../../src/core/db/database.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-database.ts';

let testDb: TestDatabase;
let secondPool: Database | null = null;
let db: Knex;
let otherDb: Knex;

test.before(async () => {
  testDb = await createTestDatabase();
  db = testDb.database.knex;
  secondPool = testDb.url ? connectPostgres(testDb.url, 5) : null;
  otherDb = secondPool?.knex ?? db;
});

test.after.always(async () => {
  await secondPool?.close();
  await testDb?.drop();
});

// Refills an hour apart: nothing refills while a test runs, so every count below is exact.
const slow = { burst: 10, refillMs: 3_600_000 };
// Leases stay fresh for a minute, so a test never depends on how fast it runs.
const settings = { leaseTtlMs: 60_000 };

/** Counts the statements a knex instance sends while `work` runs. */
async function statementsDuring(knex: Knex, work: () => Promise<unknown>): Promise<number> {
  let n = 0;
  const count = (): void => void (n += 1);
  knex.on('query', count);
  try {
    await work();
  } finally {
    knex.removeListener('query', count);
  }
  return n;
}

test.serial('one replica gets exactly the burst, in fewer round trips than messages', async (t) => {
  const buckets = new SharedTokenBuckets(db, settings);
  const decisions: boolean[] = [];
  const statements = await statementsDuring(db, async () => {
    for (let i = 0; i < 15; i += 1) decisions.push((await buckets.take('one-replica', slow)).allowed);
  });
  t.deepEqual(decisions, [...Array<boolean>(10).fill(true), ...Array<boolean>(5).fill(false)]);
  // Leases of 1, 2, 4 and 3 (all that was left of 8 asked): four round trips for ten messages; the
  // short last lease told it the bucket is empty, so the five refusals cost none.
  t.is(statements, 4);
});

test.serial('many takers at once on one replica share round trips, and none is refused while the bucket has tokens', async (t) => {
  const buckets = new SharedTokenBuckets(db, settings);
  let decisions: Array<{ allowed: boolean }> = [];
  const statements = await statementsDuring(db, async () => {
    decisions = await Promise.all(Array.from({ length: 30 }, () => buckets.take('crowd', { burst: 50, refillMs: 60_000 })));
  });
  t.true(decisions.every((d) => d.allowed));
  t.true(statements <= 2, `${statements} statements`);
});

test.serial('replicas share one bucket: together they never get more than the burst', async (t) => {
  const a = new SharedTokenBuckets(db, settings);
  const b = new SharedTokenBuckets(otherDb, settings);
  const decisions = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).take('two-replicas', slow)));
  const allowed = decisions.filter((d) => d.allowed).length;
  t.true(allowed <= 10, `${allowed} allowed`);
  // A replica may be left holding a few leased tokens the other could not have; never more than the burst in all.
  const more = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).take('two-replicas', slow)));
  t.is(allowed + more.filter((d) => d.allowed).length, 10);
  for (const d of [...decisions, ...more]) if (!d.allowed) t.true(d.retryAfterMs > 0 && d.retryAfterMs <= slow.refillMs);
});

test.serial('an empty bucket is refused from memory until it refills, so a flood costs no round trips', async (t) => {
  const buckets = new SharedTokenBuckets(db, settings);
  for (let i = 0; i < 10; i += 1) await buckets.take('flooded', slow);
  t.false((await buckets.take('flooded', slow)).allowed);
  const statements = await statementsDuring(db, async () => {
    for (let i = 0; i < 50; i += 1) t.false((await buckets.take('flooded', slow)).allowed);
  });
  t.is(statements, 0);
});

test.serial('the bucket refills by the database clock, up to the burst', async (t) => {
  const buckets = new SharedTokenBuckets(db);
  const rule = { burst: 3, refillMs: 3_600_000 };
  t.like(await buckets.takeFromDatabase('refill', rule, 3), { granted: 3 });
  t.like(await buckets.takeFromDatabase('refill', rule, 1), { granted: 0 });
  // Two refill intervals have passed (moving the row's clock instead of waiting).
  await db('token_buckets')
    .where({ key: 'refill' })
    .update({ updated_at: db.raw(`updated_at - interval '2 hours'`) });
  t.like(await buckets.takeFromDatabase('refill', rule, 3), { granted: 2 });
  await db('token_buckets')
    .where({ key: 'refill' })
    .update({ updated_at: db.raw(`updated_at - interval '100 hours'`) });
  t.like(await buckets.takeFromDatabase('refill', rule, 5), { granted: 3 });
});

test.serial('pruning drops buckets idle for a day, and a dropped bucket starts full', async (t) => {
  const buckets = new SharedTokenBuckets(db);
  const rule = { burst: 2, refillMs: 3_600_000 };
  await buckets.takeFromDatabase('idle', rule, 2);
  await buckets.takeFromDatabase('busy', rule, 2);
  await db('token_buckets')
    .where({ key: 'idle' })
    .update({ updated_at: db.raw(`now() - interval '25 hours'`) });
  t.true((await buckets.prune()) >= 1);
  t.deepEqual(
    (await db('token_buckets').whereIn('key', ['idle', 'busy']).select('key')).map((r: { key: string }) => r.key),
    ['busy'],
  );
  t.like(await buckets.takeFromDatabase('idle', rule, 2), { granted: 2 });
});

test.serial('a rule that cannot refill within a day is refused', async (t) => {
  const buckets = new SharedTokenBuckets(db);
  await t.throwsAsync(buckets.take('bad', { burst: 100, refillMs: 3_600_000 }), { message: /refill within/ });
  await t.throwsAsync(buckets.take('bad', { burst: 0, refillMs: 100 }), { message: /positive integer/ });
});
