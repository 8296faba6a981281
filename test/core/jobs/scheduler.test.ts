import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { connectPostgres, type Database } from '../../../src/core/db/database.ts';
import { createLogger } from '../../../src/core/log/logger.ts';
import type { JobDefinition } from '../../../src/core/jobs/job.ts';
import { Scheduler } from '../../../src/core/jobs/scheduler.ts';
import { captureLogs } from '../../helpers/start-test-app.ts';
import { createTestDatabase, testEngine, type TestDatabase } from '../../helpers/test-database.ts';

let db: TestDatabase;
/** A second connection pool to the same database: a second replica. PGlite has one connection, so it shares. */
let second: Database;

test.before(async () => {
  db = await createTestDatabase();
  second = db.url ? connectPostgres(db.url, 5) : db.database;
});

test.after.always(async () => {
  if (second && second !== db?.database) await second.close();
  await db?.drop();
});

function schedulerOn(database: Database, name: string) {
  const { logs, stream } = captureLogs();
  const registry = new Registry();
  const scheduler = new Scheduler({ knex: database.knex, log: createLogger('debug', stream), registry, replicaId: name });
  return { scheduler, logs, registry };
}

test.serial(`two replicas firing the same once_across_replicas job run each slot exactly once (${testEngine})`, async (t) => {
  const job = (replica: string): JobDefinition => ({
    id: 'test.exactly-once',
    every_ms: 200,
    timeout_ms: 5_000,
    once_across_replicas: true,
    run: async ({ slot }) => {
      await db.database.knex('example_notes').insert({ text: `${slot.toISOString()} ${replica}` });
    },
  });
  const a = schedulerOn(db.database, 'replica-a');
  const b = schedulerOn(second, 'replica-b');
  a.scheduler.add(job('a'));
  b.scheduler.add(job('b'));
  a.scheduler.start();
  b.scheduler.start();
  await sleep(2_100);
  await Promise.all([a.scheduler.stop(2_000), b.scheduler.stop(2_000)]);

  const notes = await db.database.knex('example_notes').select<Array<{ text: string }>>('text');
  const perSlot = new Map<string, number>();
  for (const { text } of notes) {
    const slot = text.split(' ')[0] as string;
    perSlot.set(slot, (perSlot.get(slot) ?? 0) + 1);
  }
  t.true(perSlot.size >= 5, `expected about 10 slots, got ${perSlot.size}`);
  t.true(
    [...perSlot.values()].every((n) => n === 1),
    JSON.stringify([...perSlot]),
  );
  // Both replicas really competed: the loser of each slot logged it as claimed elsewhere.
  const claimedElsewhere = [...a.logs, ...b.logs].filter((l) => l.msg === 'slot already claimed by another replica').length;
  t.true(claimedElsewhere >= perSlot.size - 2, `${claimedElsewhere} skipped of ${perSlot.size}`);
  // Each run was logged with its outcome and duration, and recorded in the ledger.
  const runLines = [...a.logs, ...b.logs].filter((l) => l.msg === 'job run');
  t.is(runLines.length, perSlot.size);
  t.true(runLines.every((l) => l.outcome === 'ok' && typeof l.duration_ms === 'number'));
  const ledger = await db.database.knex('job_runs').where({ job_id: 'test.exactly-once' }).select<Array<{ outcome: string; claimed_by: string }>>('outcome', 'claimed_by');
  t.is(ledger.length, perSlot.size);
  t.true(ledger.every((r) => r.outcome === 'ok'));
});

test.serial(`concurrent claims of one slot: one runs, one is skipped (${testEngine})`, async (t) => {
  const runs: string[] = [];
  const job = (replica: string): JobDefinition => ({
    id: 'test.claims',
    every_ms: 60_000,
    timeout_ms: 5_000,
    once_across_replicas: true,
    run: async () => {
      runs.push(replica);
    },
  });
  const a = schedulerOn(db.database, 'a');
  const b = schedulerOn(second, 'b');
  a.scheduler.add(job('a'));
  b.scheduler.add(job('b'));
  for (let i = 0; i < 20; i += 1) {
    const slot = new Date(Date.UTC(2030, 0, 1, 0, i));
    const outcomes = await Promise.all([a.scheduler.fire('test.claims', slot), b.scheduler.fire('test.claims', slot)]);
    t.deepEqual(outcomes.sort(), ['ok', 'skipped_claimed']);
  }
  t.is(runs.length, 20);
});

test('a run never overlaps the previous run of the same job', async (t) => {
  const { scheduler, registry } = schedulerOn(db.database, 'solo');
  let active = 0;
  let maxActive = 0;
  scheduler.add({
    id: 'test.no-overlap',
    every_ms: 60_000,
    timeout_ms: 5_000,
    once_across_replicas: false,
    run: async () => {
      active += 1;
      maxActive = Math.max(maxActive, active);
      await sleep(150);
      active -= 1;
    },
  });
  const outcomes = await Promise.all([0, 1, 2].map((i) => scheduler.fire('test.no-overlap', new Date(i * 1000))));
  t.deepEqual(outcomes, ['ok', 'skipped_overlap', 'skipped_overlap']);
  t.is(maxActive, 1);
  const metrics = await registry.metrics();
  t.regex(metrics, /panel_job_runs_total\{job="test.no-overlap",outcome="skipped_overlap"\} 2/);
});

test('a run past its timeout is aborted, logged as timeout, and the slot stays busy until it really ends', async (t) => {
  const { scheduler, logs } = schedulerOn(db.database, 'solo');
  let sawAbort = false;
  scheduler.add({
    id: 'test.timeout',
    every_ms: 60_000,
    timeout_ms: 100,
    once_across_replicas: false,
    run: async ({ signal }) => {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      sawAbort = true;
      await sleep(50);
    },
  });
  t.is(await scheduler.fire('test.timeout', new Date()), 'timeout');
  t.true(sawAbort);
  t.true(logs.some((l) => l.msg === 'job run' && l.outcome === 'timeout'));
});

test('a failing run is logged with its error and the next slot runs normally', async (t) => {
  const { scheduler, logs } = schedulerOn(db.database, 'solo');
  let calls = 0;
  scheduler.add({
    id: 'test.fails-once',
    every_ms: 60_000,
    timeout_ms: 1_000,
    once_across_replicas: false,
    run: async () => {
      calls += 1;
      if (calls === 1) throw new Error('first run breaks');
    },
  });
  t.is(await scheduler.fire('test.fails-once', new Date(0)), 'failed');
  t.is(await scheduler.fire('test.fails-once', new Date(1000)), 'ok');
  t.true(logs.some((l) => l.msg === 'job run failed' && (l.err as { message: string }).message === 'first run breaks'));
});

test('stop aborts running jobs and waits for them', async (t) => {
  const { scheduler } = schedulerOn(db.database, 'solo');
  let finished = false;
  scheduler.add({
    id: 'test.long',
    every_ms: 60_000,
    timeout_ms: 60_000,
    once_across_replicas: false,
    run: async ({ signal }) => {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      finished = true;
    },
  });
  const run = scheduler.fire('test.long', new Date());
  await sleep(20);
  const started = Date.now();
  await scheduler.stop(5_000);
  t.true(finished);
  t.true(Date.now() - started < 1_000);
  t.is(await run, 'ok');
});

test('cron jobs fire on their schedule through node-cron', async (t) => {
  const { scheduler } = schedulerOn(db.database, 'solo');
  const slots: Date[] = [];
  scheduler.add({ id: 'test.cron', cron: '* * * * * *', timeout_ms: 1_000, once_across_replicas: false, run: async ({ slot }) => void slots.push(slot) });
  scheduler.start();
  await sleep(2_300);
  await scheduler.stop(1_000);
  t.true(slots.length >= 2);
  t.true(slots.every((s) => s.getMilliseconds() === 0));
});

test('bad job declarations are refused with a clear message', (t) => {
  const { scheduler } = schedulerOn(db.database, 'solo');
  const base = { timeout_ms: 1000, once_across_replicas: false, run: async () => {} };
  t.throws(() => scheduler.add({ ...base, id: 'NoDots', every_ms: 1000 }), { message: /dotted/ });
  t.throws(() => scheduler.add({ ...base, id: 'test.both', every_ms: 1000, cron: '* * * * *' }), { message: /exactly one/ });
  t.throws(() => scheduler.add({ ...base, id: 'test.badcron', cron: 'every day' }), { message: /cron/ });
  scheduler.add({ ...base, id: 'test.once', every_ms: 1000 });
  t.throws(() => scheduler.add({ ...base, id: 'test.once', every_ms: 1000 }), { message: /twice/ });
});
