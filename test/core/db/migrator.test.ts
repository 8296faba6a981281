import test from 'ava';
import type { Knex } from 'knex';
import { migrateDown, migrateUp, migrationStatus } from '../../../src/core/db/migrator.ts';
import { allMigrationSets, createEmptyDatabase, testEngine } from '../../helpers/test-database.ts';

async function tables(knex: Knex): Promise<string[]> {
  const result = await knex.raw<{ rows: Array<{ table_name: string }> }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`);
  return result.rows.map((r) => r.table_name);
}

test(`every migration runs up, down and up again (${testEngine})`, async (t) => {
  const db = await createEmptyDatabase();
  t.teardown(() => db.drop());
  const { knex } = db.database;
  const sets = allMigrationSets();

  const firstUp = await migrateUp(knex, sets);
  t.true(firstUp >= 2);
  const afterUp = await tables(knex);
  for (const name of ['app_secrets', 'rate_limit_buckets', 'job_runs', 'example_notes', 'schema_migrations']) t.true(afterUp.includes(name), name);

  // Names are recorded without extensions, per owner.
  const status = await migrationStatus(knex, sets);
  t.true(status.every((s) => s.appliedAt !== null && !/\.(ts|js)$/.test(s.name)));
  t.deepEqual([...new Set(status.map((s) => s.owner))].sort(), sets.map((s) => s.owner).sort());

  // Down in reverse order of owners: plugins before the core they build on.
  for (const set of [...sets].reverse()) await migrateDown(knex, set, Infinity);
  t.deepEqual(await tables(knex), ['schema_migrations']);
  t.true((await migrationStatus(knex, sets)).every((s) => s.appliedAt === null));

  t.is(await migrateUp(knex, sets), firstUp);
  t.deepEqual(await tables(knex), afterUp);
  t.is(await migrateUp(knex, sets), 0, 'a second up is a no-op');
});

test(`replicas migrating at the same time apply each migration once (${testEngine})`, async (t) => {
  const db = await createEmptyDatabase();
  t.teardown(() => db.drop());
  const sets = allMigrationSets();
  const counts = await Promise.all([migrateUp(db.database.knex, sets), migrateUp(db.database.knex, sets), migrateUp(db.database.knex, sets)]);
  const total = (await migrationStatus(db.database.knex, sets)).length;
  t.is(
    counts.reduce((a, b) => a + b, 0),
    total,
  );
});

test(`down reverts only the newest migration of one owner (${testEngine})`, async (t) => {
  const db = await createEmptyDatabase();
  t.teardown(() => db.drop());
  const sets = allMigrationSets();
  await migrateUp(db.database.knex, sets);
  const example = sets.find((s) => s.owner === 'example');
  if (!example) throw new Error('example set missing');
  t.is(await migrateDown(db.database.knex, example, 1), 1);
  const after = await tables(db.database.knex);
  t.false(after.includes('example_notes'));
  t.true(after.includes('app_secrets'));
});
