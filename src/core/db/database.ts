import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import { PGlite } from '@electric-sql/pglite';

export type Engine = 'postgres' | 'pglite';

export interface Database {
  knex: Knex;
  engine: Engine;
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
  });
  return { knex, engine: 'postgres', close: () => knex.destroy() };
}

/** Embedded PostgreSQL over one PGlite instance (one connection: PGlite is single-session). */
export function wrapPglite(pglite: PGlite): Database {
  const knex = knexFactory({
    client: ClientPgLite,
    dialect: 'postgres',
    // knex-pglite accepts a provider returning an existing instance; knex's own types don't know that shape.
    connection: (() => ({ pglite })) as unknown as Knex.ConnectionConfigProvider,
    acquireConnectionTimeout: 30_000,
  });
  return {
    knex,
    engine: 'pglite',
    close: async () => {
      await knex.destroy();
      // knex only closes PGlite if it ever opened its connection; close it ourselves otherwise.
      if (!pglite.closed) await pglite.close();
    },
  };
}

/** `DATABASE_URL` set → the server; otherwise embedded PostgreSQL in `<data_dir>/pglite`. */
export async function openDatabase(settings: DatabaseSettings): Promise<Database> {
  if (settings.url !== null) return connectPostgres(settings.url, settings.pool_max);
  const dir = resolve(settings.data_dir, 'pglite');
  mkdirSync(dir, { recursive: true });
  const pglite = new PGlite(dir);
  await pglite.waitReady;
  return wrapPglite(pglite);
}
