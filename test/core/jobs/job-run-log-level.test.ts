import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { createLogger } from '../../../src/core/log/logger.ts';
import { longRunMs, Scheduler } from '../../../src/core/jobs/scheduler.ts';
import { captureLogs } from '../../helpers/start-test-app.ts';
import { createTestDatabase, testEngine, type TestDatabase } from '../../helpers/test-database.ts';

/** "job run" lines: debug when a run went as usual, info when it failed, timed out or took long. */
let db: TestDatabase;
test.before(async () => {
  db = await createTestDatabase();
});
test.after.always(async () => {
  await db?.drop();
});

const debug = 20;
const info = 30;

test('the long-run threshold is 1 s, or a quarter of a short interval', (t) => {
  t.is(longRunMs({ every_ms: 1_000 }), 250);
  t.is(longRunMs({ every_ms: 5_000 }), 1_000);
  t.is(longRunMs({ every_ms: 3_600_000 }), 1_000);
  t.is(longRunMs({}), 1_000, 'cron jobs');
});

test(`usual runs log at debug; long, failed and timed-out runs at info (${testEngine})`, async (t) => {
  const { logs, stream } = captureLogs();
  const scheduler = new Scheduler({ knex: db.database.knex, log: createLogger('debug', stream), registry: new Registry(), replicaId: 'solo' });
  const base = { every_ms: 400, timeout_ms: 300, once_across_replicas: false };
  // A 1 s threshold, so a loaded test machine does not make a no-op run look long.
  scheduler.add({ ...base, every_ms: 60_000, id: 'test.fast', run: async () => {} });
  scheduler.add({ ...base, id: 'test.slow', run: () => sleep(150) });
  scheduler.add({
    ...base,
    id: 'test.broken',
    run: async () => {
      throw new Error('broken');
    },
  });
  scheduler.add({ ...base, id: 'test.stuck', run: ({ signal }) => new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve())) });
  for (const id of ['test.fast', 'test.slow', 'test.broken', 'test.stuck']) await scheduler.fire(id, new Date());
  const runLine = (job: string) => logs.find((l) => l.msg === 'job run' && l.job === job) as Record<string, unknown>;
  t.is(runLine('test.fast').level, debug);
  t.is(runLine('test.fast').long_run_ms, undefined);
  t.is(runLine('test.slow').level, info);
  t.is(runLine('test.slow').long_run_ms, 100);
  t.is(runLine('test.slow').outcome, 'ok');
  t.is(runLine('test.broken').level, info);
  t.is(runLine('test.stuck').level, info);
  t.is(runLine('test.stuck').outcome, 'timeout');
  await scheduler.stop(1_000);
});
