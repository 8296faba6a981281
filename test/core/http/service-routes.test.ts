import test from 'ava';
import { migrateDown, migrateUp } from '../../../src/core/db/migrator.ts';
import { examplePlugin } from '../../fixtures/example-plugin/index.ts';
import { startTestApp, type TestApp } from '../../helpers/start-test-app.ts';

let app: TestApp;

test.before(async () => {
  app = await startTestApp({ plugins: [examplePlugin] });
});

test.after.always(async () => {
  await app?.close();
});

test('/metrics is a 404 when no METRICS_TOKEN is configured', async (t) => {
  const res = await app.request('/metrics', { headers: { Authorization: 'Bearer anything' } });
  t.is(res.status, 404);
  t.is(((await res.json()) as { code: string }).code, 'NOT_FOUND');
});

test.serial('/readyz answers 503 MIGRATIONS_PENDING while a migration is not applied, and 200 again after', async (t) => {
  const { knex } = app.testDatabase.database;
  const set = { owner: 'example', dir: examplePlugin.migrationsDir as string };
  await migrateDown(knex, set, 1);
  const res = await app.request('/readyz');
  t.is(res.status, 503);
  const body = (await res.json()) as { code: string; message: string };
  t.is(body.code, 'MIGRATIONS_PENDING');
  t.regex(body.message, /scripts\/migrate up/);
  await migrateUp(knex, [set]);
  t.is((await app.request('/readyz')).status, 200);
});

test.serial('a request in flight at shutdown completes, and its connection is not kept alive', async (t) => {
  const own = await startTestApp({ plugins: [examplePlugin] });
  const slow = own.request('/api/example/slow?ms=800');
  await new Promise((resolve) => setTimeout(resolve, 100));
  const stopping = own.close();
  // The listening socket is closed, but the in-flight request still completes.
  const res = await slow;
  t.is(res.status, 200);
  t.is(res.headers.get('connection'), 'close');
  await stopping;
});
