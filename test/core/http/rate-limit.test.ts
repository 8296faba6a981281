import test from 'ava';
import { examplePlugin } from '../../fixtures/example-plugin/index.ts';
import { startTestApp, type TestApp } from '../../helpers/start-test-app.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-database.ts';

let db: TestDatabase;
let replicaA: TestApp;
let replicaB: TestApp;

test.before(async () => {
  db = await createTestDatabase();
  const options = { plugins: [examplePlugin], testDatabase: db, config: { rate_limits: { example_test: { limit: 4, window_s: 86_400 } } } };
  replicaA = await startTestApp(options);
  replicaB = await startTestApp(options);
});

test.after.always(async () => {
  await replicaA?.close();
  await replicaB?.close();
  await db?.drop();
});

test.serial('limits hold across replicas, with headers on every answer and a 429 envelope after', async (t) => {
  const answers: Response[] = [];
  // Alternate replicas: one shared budget of 4 per window.
  for (const app of [replicaA, replicaB, replicaA, replicaB]) answers.push(await app.request('/api/example/limited'));
  t.deepEqual(
    answers.map((r) => r.status),
    [200, 200, 200, 200],
  );
  t.deepEqual(
    answers.map((r) => r.headers.get('x-ratelimit-remaining')),
    ['3', '2', '1', '0'],
  );
  for (const r of answers) t.is(r.headers.get('x-ratelimit-limit'), '4');
  const reset = Number(answers[0]?.headers.get('x-ratelimit-reset'));
  t.true(reset > Date.now() / 1000 && reset <= Date.now() / 1000 + 86_401);

  const refused = await replicaB.request('/api/example/limited');
  t.is(refused.status, 429);
  const body = (await refused.json()) as { code: string; details: { retry_after: number }; request_id: string };
  t.is(body.code, 'RATE_LIMIT_EXCEEDED');
  t.true(body.details.retry_after >= 1 && body.details.retry_after <= 86_400);
  t.is(refused.headers.get('retry-after'), String(body.details.retry_after));
  t.is(refused.headers.get('x-ratelimit-remaining'), '0');
  t.is(body.request_id, refused.headers.get('x-request-id') ?? '');
});

test.serial('routes without a limit carry no rate-limit headers', async (t) => {
  const res = await replicaA.request('/api/example/hello');
  t.is(res.headers.get('x-ratelimit-limit'), null);
});

test.serial('a new window starts from zero, and pruning drops ended windows', async (t) => {
  const { knex } = db.database;
  await knex('rate_limit_buckets').update({ window_start: knex.raw(`window_start - interval '2 minutes'`), expires_at: knex.raw(`expires_at - interval '2 minutes'`) });
  const res = await replicaA.request('/api/example/limited');
  t.is(res.status, 200);
  t.is(res.headers.get('x-ratelimit-remaining'), '3');
  await knex('rate_limit_buckets').update({ expires_at: knex.raw(`now() - interval '1 second'`) });
  t.is(await replicaA.server.scheduler.fire('core.prune-rate-limits', new Date()), 'ok');
  const left = await knex('rate_limit_buckets').count<Array<{ n: string | number }>>('* as n');
  t.is(Number(left[0]?.n), 0);
});
