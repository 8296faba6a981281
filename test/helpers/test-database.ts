import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { connectPostgres, wrapPglite, type Database } from '../../src/core/db/database.ts';
import { listMigrationFiles, migrateUp, type MigrationSet } from '../../src/core/db/migrator.ts';
import { coreMigrationsDir } from '../../src/server.ts';
import { examplePlugin } from '../fixtures/example-plugin/index.ts';

/** `TEST_DATABASE_URL` set → a real PostgreSQL server; otherwise embedded PGlite. */
export const testDatabaseUrl = process.env.TEST_DATABASE_URL || null;
export const testEngine = testDatabaseUrl ? 'postgres' : 'pglite';
/**
 * The PostgreSQL server for tests that need one whatever the engine (several replicas in
 * processes of their own cannot share an embedded database): TEST_DATABASE_URL, else the
 * local server `.ci/run` starts.
 */
export const postgresServerUrl = testDatabaseUrl ?? 'postgres://postgres@127.0.0.1:5432/test';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const cacheDir = join(repoRoot, '.cache', 'test-db');

export interface TestDatabase {
  database: Database;
  /** The server URL of this database (postgres engine), for child processes. */
  url: string | null;
  drop(): Promise<void>;
}

/** Every migration set a test might need: the core, the shipped plugins, and the example plugin. */
export function allMigrationSets(): MigrationSet[] {
  const pluginsDir = join(repoRoot, 'plugins');
  const shipped = existsSync(pluginsDir)
    ? readdirSync(pluginsDir)
        .filter((id) => existsSync(join(pluginsDir, id, 'migrations')))
        .map((id) => ({ owner: id, dir: join(pluginsDir, id, 'migrations') }))
    : [];
  return [{ owner: 'core', dir: coreMigrationsDir }, ...shipped, { owner: examplePlugin.id, dir: examplePlugin.migrationsDir as string }];
}

/** Changes whenever a migration file changes, so a stale template is never reused. */
function templateKey(): string {
  const hash = createHash('sha256');
  for (const set of allMigrationSets()) {
    for (const m of listMigrationFiles(set.dir)) hash.update(`${set.owner}/${m.name}\n`).update(readFileSync(m.file));
  }
  return hash.digest('hex').slice(0, 12);
}

function urlFor(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Runs `build` once across all test worker processes; the others wait for the file it writes. */
async function onceAcrossWorkers(file: string, build: () => Promise<void>): Promise<void> {
  mkdirSync(cacheDir, { recursive: true });
  const lock = `${file}.lock`;
  for (let waited = 0; !existsSync(file); waited += 100) {
    try {
      mkdirSync(lock);
    } catch {
      // Another worker is building; a lock older than two minutes belongs to a dead worker.
      const held = statSync(lock, { throwIfNoEntry: false });
      if (waited > 120_000 || (held && Date.now() - held.mtimeMs > 120_000)) rmSync(lock, { recursive: true, force: true });
      await sleep(100);
      continue;
    }
    try {
      if (!existsSync(file)) await build();
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
}

async function pgliteTemplate(): Promise<Buffer> {
  const file = join(cacheDir, `pglite-${templateKey()}.tar`);
  await onceAcrossWorkers(file, async () => {
    const pglite = new PGlite();
    const db = wrapPglite(pglite);
    await migrateUp(db.knex, allMigrationSets());
    const dump = await pglite.dumpDataDir('none');
    await db.close();
    const partial = `${file}.${process.pid}`;
    writeFileSync(partial, Buffer.from(await dump.arrayBuffer()));
    renameSync(partial, file);
  });
  return readFileSync(file);
}

async function withAdminClient<T>(server: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: server });
  await client.connect();
  try {
    // Serialises template builds and clones across the worker processes of one test run.
    await client.query(`SELECT pg_advisory_lock(hashtext('panel-test-template'))`);
    return await work(client);
  } finally {
    await client.end();
  }
}

async function postgresTemplate(server: string, client: pg.Client): Promise<string> {
  const name = `panel_tmpl_${templateKey()}`;
  const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  if (found.rowCount === 0) {
    const building = `${name}_build`;
    await client.query(`DROP DATABASE IF EXISTS ${building} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${building}`);
    const db = connectPostgres(urlFor(server, building), 2);
    await migrateUp(db.knex, allMigrationSets());
    await db.close();
    await client.query(`ALTER DATABASE ${building} RENAME TO ${name}`);
  }
  return name;
}

async function postgresDatabase(template: 'migrated' | 'empty', server = testDatabaseUrl as string): Promise<TestDatabase> {
  const name = `panel_t_${process.pid}_${randomBytes(4).toString('hex')}`;
  await withAdminClient(server, async (client) => {
    const source = template === 'migrated' ? await postgresTemplate(server, client) : 'template0';
    await client.query(`CREATE DATABASE ${name} TEMPLATE ${source}`);
  });
  const url = urlFor(server, name);
  const database = connectPostgres(url, 5);
  return {
    database,
    url,
    drop: async () => {
      await database.close();
      const client = new pg.Client({ connectionString: server });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

/** A database of its own for one test file, already migrated (cloned from a template). */
export async function createTestDatabase(): Promise<TestDatabase> {
  if (testDatabaseUrl) return postgresDatabase('migrated');
  const dump = await pgliteTemplate();
  const pglite = new PGlite({ loadDataDir: new Blob([dump]) });
  await pglite.waitReady;
  const database = wrapPglite(pglite);
  return { database, url: null, drop: () => database.close() };
}

/** A migrated database on the PostgreSQL server (`postgresServerUrl`), on either engine's run. */
export function createPostgresDatabase(): Promise<TestDatabase> {
  return postgresDatabase('migrated', postgresServerUrl);
}

/** A database with no tables at all, for migration tests. */
export async function createEmptyDatabase(): Promise<TestDatabase> {
  if (testDatabaseUrl) return postgresDatabase('empty');
  const pglite = new PGlite();
  await pglite.waitReady;
  const database = wrapPglite(pglite);
  return { database, url: null, drop: () => database.close() };
}
