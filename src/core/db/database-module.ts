import { fileURLToPath } from 'node:url';
import type { Config } from '../../config/schema.ts';
import type { Logger } from '../log/logger.ts';
import type { CoreModule } from '../boot/core-module.ts';
import { connectPostgres, openDatabase, type Database } from './database.ts';
import { DatabaseHealth } from './database-health.ts';
import { targetOf } from './postgres-probe.ts';
import { countPending, migrateUp, type MigrationSet } from './migrator.ts';
import { loadSecrets, type AppSecrets } from './secrets.ts';

export const coreMigrationsDir = fileURLToPath(new URL('../../../migrations', import.meta.url));

export interface DatabaseModule extends CoreModule {
  database: Database;
  secrets: AppSecrets;
  /** False while the PostgreSQL server does not answer (always true on the embedded database). */
  databaseUp: () => boolean;
  /** How many migrations of the core and the enabled plugins are not applied (for /readyz). */
  pendingMigrations: () => Promise<number>;
}

export interface DatabaseModuleOptions {
  config: Readonly<Config>;
  log: Logger;
  /** The plugins' migrations, applied with the core's. */
  pluginMigrations: readonly MigrationSet[];
  /** A database opened by the caller (tests' template clones); it is not closed at stop. */
  database?: Database;
}

/** Opens the database (or takes the caller's), applies every migration and loads the secrets. */
export async function createDatabaseModule(options: DatabaseModuleOptions): Promise<DatabaseModule> {
  const { config, log } = options;
  const database = options.database ?? (await openDatabase(config.database));
  const ownsDatabase = options.database === undefined;
  const close = async (): Promise<void> => {
    if (ownsDatabase) await database.close();
  };
  try {
    // openDatabase answers once a query went through (PostgreSQL) or PGlite is open: connected, really.
    const where = database.url ? (({ host, port, database: name }) => ({ host, port, database: name }))(targetOf(database.url)) : {};
    log.info({ engine: database.engine, ...where }, 'database connected');
    const sets: MigrationSet[] = [{ owner: 'core', dir: coreMigrationsDir }, ...options.pluginMigrations];
    // A migration may run long (an index on a big table), and a replica booting beside one that
    // migrates waits for its lock: on a server of our own, migrations run without the statement timeout.
    const migrating = ownsDatabase && database.url ? connectPostgres(database.url, 1, { ...config.database, query_timeout_ms: 0 }) : null;
    try {
      await migrateUp(migrating?.knex ?? database.knex, sets, (m) => log.info(m, 'migration applied'));
    } finally {
      await migrating?.close();
    }
    const secrets = await loadSecrets(database.knex, config.secrets, (name) => log.info({ secret: name }, 'generated and stored a new secret'));
    const health = database.url ? new DatabaseHealth(database.url, log.child({ component: 'database-health' })) : null;
    return {
      name: 'database',
      database,
      secrets,
      databaseUp: () => health?.isUp() ?? true,
      pendingMigrations: () => countPending(database.knex, sets),
      start: async () => health?.start(),
      stop: async () => {
        await health?.stop();
        await close();
      },
    };
  } catch (err) {
    // A failed boot must not leave a connection pool (or PGlite) keeping the process alive.
    await close().catch(() => undefined);
    throw err;
  }
}
