import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import type pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { StartupError } from '../boot/startup-error.ts';
import { probePostgres } from './postgres-probe.ts';
import { createPgliteInChild, hasDatabase } from './pglite-create.ts';
import { chooseWasmTier, defaultPgliteTuning, pgliteOptions, type PgliteTuning } from './pglite-tuning.ts';

export type Engine = 'postgres' | 'pglite';

export interface Database {
  knex: Knex;
  engine: Engine;
  /** The server's URL (for LISTEN connections); null on the embedded database. */
  url: string | null;
  close(): Promise<void>;
}

/** How long the API waits on a PostgreSQL server before calling it unavailable (docs/robustness.md#database-outages). */
export interface DatabaseTimeouts {
  /** A new connection must be ready (TCP, TLS, startup) within this. */
  connect_timeout_ms: number;
  /** The server cancels a statement running longer (statement_timeout); 0: never. */
  query_timeout_ms: number;
  /** A request waits this long at most for a pooled connection. */
  acquire_timeout_ms: number;
}

export interface DatabaseSettings extends DatabaseTimeouts {
  url: string | null;
  data_dir: string;
  pool_max: number;
  /** Sizing of the embedded database (pglite-tuning.ts); unset: the shipped defaults. */
  pglite_shared_buffers_mb?: number;
  pglite_optimize_wasm?: boolean;
}

export const defaultDatabaseTimeouts: DatabaseTimeouts = { connect_timeout_ms: 2_000, query_timeout_ms: 15_000, acquire_timeout_ms: 10_000 };

/**
 * The server cancels a slow statement itself (statement_timeout) and the connection stays
 * usable. When no answer can come at all (the network path blackholes), pg's own read timeout,
 * a second later, answers the caller, but leaves the connection waiting for the lost reply;
 * such a connection is cut here, so the pool never hands it out again.
 */
function cutOnReadTimeout(connection: pg.Client): void {
  const query = connection.query.bind(connection) as (...args: unknown[]) => unknown;
  (connection as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const last = args.length - 1;
    const callback = args[last];
    if (typeof callback === 'function') {
      args[last] = (err: unknown, result: unknown) => {
        // pg's message for its query_timeout (client.js); the only error that leaves the reply owed.
        if (err instanceof Error && err.message === 'Query read timeout') (connection as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
        (callback as (e: unknown, r: unknown) => void)(err, result);
      };
    }
    return query(...args);
  };
}

/** A PostgreSQL server through `pg`, pooled, with every wait bounded (see DatabaseTimeouts). */
export function connectPostgres(url: string, poolMax: number, timeouts: DatabaseTimeouts = defaultDatabaseTimeouts): Database {
  const statementTimeout = timeouts.query_timeout_ms;
  const knex = knexFactory({
    client: 'pg',
    connection: {
      connectionString: url,
      connectionTimeoutMillis: timeouts.connect_timeout_ms,
      keepAlive: true,
      ...(statementTimeout > 0 ? { statement_timeout: statementTimeout, query_timeout: statementTimeout + 1_000 } : {}),
    },
    pool: {
      min: 0,
      max: poolMax,
      afterCreate: (connection: pg.Client, done: (err: Error | null, connection: pg.Client) => void) => {
        cutOnReadTimeout(connection);
        done(null, connection);
      },
    },
    acquireConnectionTimeout: timeouts.acquire_timeout_ms,
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

/**
 * `DATABASE_URL` set → the server, once one real connection has answered a query (a wrong URL
 * is a StartupError naming what to fix); otherwise embedded PostgreSQL in `<data_dir>/pglite`.
 */
export async function openDatabase(settings: DatabaseSettings): Promise<Database> {
  if (settings.url !== null) {
    await probePostgres(settings.url, settings.connect_timeout_ms);
    return connectPostgres(settings.url, settings.pool_max, settings);
  }
  const dir = resolve(settings.data_dir, 'pglite');
  mkdirSync(dir, { recursive: true });
  const unlock = lockDataDir(dir);
  try {
    const tuning: PgliteTuning = {
      shared_buffers_mb: settings.pglite_shared_buffers_mb ?? defaultPgliteTuning.shared_buffers_mb,
      optimize_wasm: settings.pglite_optimize_wasm ?? defaultPgliteTuning.optimize_wasm,
    };
    chooseWasmTier(tuning);
    if (!hasDatabase(dir)) await createPgliteInChild(dir, tuning);
    const pglite = new PGlite(dir, pgliteOptions(tuning));
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
      throw new StartupError(
        'DATA_DIR',
        `the embedded database in ${dir} is in use by process ${holder}; stop that process first, or set DATABASE_URL to a PostgreSQL server that several processes can share`,
      );
    }
    writeFileSync(file, String(process.pid));
  }
  return () => rmSync(file, { force: true });
}
