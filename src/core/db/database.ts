import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import { PGlite } from '@electric-sql/pglite';

export type Engine = 'postgres' | 'pglite';

export interface Database {
  knex: Knex;
  engine: Engine;
  /** The server's URL (for LISTEN connections); null on the embedded database. */
  url: string | null;
  close(): Promise<void>;
}

export interface DatabaseSettings {
  url: string | null;
  data_dir: string;
  pool_max: number;
}

/** A PostgreSQL server through `pg`, pooled. */
export function connectPostgres(url: string, poolMax: number): Database {
  const knex = knexFactory({
    client: 'pg',
    connection: url,
    pool: { min: 0, max: poolMax },
    acquireConnectionTimeout: 10_000,
    // Otherwise knex puts the SQL with its bound values (hashes, tokens) into error messages.
    compileSqlOnError: false,
  });
  return { knex, engine: 'postgres', url, close: () => knex.destroy() };
}

/** Embedded PostgreSQL over one PGlite instance (one connection: PGlite is single-session). */
export function wrapPglite(pglite: PGlite, onClose: () => void = () => {}): Database {
  const knex = knexFactory({
    client: ClientPgLite,
    dialect: 'postgres',
    // knex-pglite accepts a provider returning an existing instance; knex's own types don't know that shape.
    connection: (() => ({ pglite })) as unknown as Knex.ConnectionConfigProvider,
    acquireConnectionTimeout: 30_000,
    compileSqlOnError: false,
  });
  return {
    knex,
    engine: 'pglite',
    url: null,
    close: async () => {
      await knex.destroy();
      // knex only closes PGlite if it ever opened its connection; close it ourselves otherwise.
      if (!pglite.closed) await pglite.close();
      onClose();
    },
  };
}

/** `DATABASE_URL` set → the server; otherwise embedded PostgreSQL in `<data_dir>/pglite`. */
export async function openDatabase(settings: DatabaseSettings): Promise<Database> {
  if (settings.url !== null) return connectPostgres(settings.url, settings.pool_max);
  const dir = resolve(settings.data_dir, 'pglite');
  mkdirSync(dir, { recursive: true });
  const unlock = lockDataDir(dir);
  try {
    const pglite = new PGlite(dir);
    await pglite.waitReady;
    return wrapPglite(pglite, unlock);
  } catch (err) {
    unlock();
    throw err;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * PGlite is one process's database: a second process opening the same directory (a
 * migrate script next to a running server) would corrupt it. A pid file refuses that;
 * a pid file left by a dead process is taken over.
 */
function lockDataDir(dir: string): () => void {
  const file = join(dir, 'panel.pid');
  try {
    writeFileSync(file, String(process.pid), { flag: 'wx' });
  } catch {
    const holder = Number(readFileSync(file, 'utf8'));
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && processAlive(holder)) {
      throw new Error(`The embedded database in ${dir} is in use by process ${holder}. Stop that process first, or set DATABASE_URL to a PostgreSQL server that several processes can share.`);
    }
    writeFileSync(file, String(process.pid));
  }
  return () => rmSync(file, { force: true });
}
