import { loadConfig } from '../src/config/load.ts';
import { openDatabase } from '../src/core/db/database.ts';
import { migrateDown, migrateUp, migrationStatus, type MigrationSet } from '../src/core/db/migrator.ts';
import { pluginMigrationSets, preparePlugins } from '../src/core/plugin-host/plugin-host.ts';
import { coreMigrationsDir } from '../src/core/db/database-module.ts';
import { runScript } from './lib/run-script.ts';
import { shippedPlugins } from '../plugins/index.ts';

const help = `Usage: npm run migrate -- <command> [options]

Applies, reverts or lists database migrations of the core and of every enabled plugin,
using the same configuration as the server (DATABASE_URL, or the embedded database in
DATA_DIR; PLUGINS). The server also migrates up by itself at start.

Commands:
  up                      apply every pending migration (core first, then plugins)
  down                    revert the newest migration of one owner
  status                  list every migration and whether it is applied

Options for down:
  --owner <id>            whose migrations: "core" or a plugin id (default: the last enabled plugin, else core)
  --steps <n>             how many to revert (default 1)
  --all                   revert all of that owner's migrations
  -h, --help              show this help

Examples:
  npm run migrate -- status
  npm run migrate -- down --owner game --steps 2
  DATABASE_URL=postgres://panel@db/panel npm run migrate -- up
`;

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function main(args: string[]): Promise<number> {
  const command = args[0];
  if (!command || args.includes('--help') || args.includes('-h')) {
    process.stdout.write(help);
    return command ? 0 : 2;
  }
  if (!['up', 'down', 'status'].includes(command)) {
    process.stderr.write(`Unknown command "${command}".\n\n${help}`);
    return 2;
  }
  const config = loadConfig();
  const prepared = preparePlugins(shippedPlugins, config.plugins.enabled, config.plugins.config);
  const sets: MigrationSet[] = [{ owner: 'core', dir: coreMigrationsDir }, ...pluginMigrationSets(prepared)];
  // A migration may run long (an index on a big table): no statement timeout for it.
  const database = await openDatabase({ ...config.database, query_timeout_ms: 0 });
  const say = (m: { owner: string; name: string; direction: string }) => process.stdout.write(`${m.direction === 'up' ? 'applied ' : 'reverted'} ${m.owner}/${m.name}\n`);
  try {
    if (command === 'up') {
      const n = await migrateUp(database.knex, sets, say);
      process.stdout.write(n === 0 ? 'Already up to date.\n' : `Applied ${n} migration(s).\n`);
    } else if (command === 'down') {
      const owner = option(args, '--owner') ?? sets[sets.length - 1]?.owner ?? 'core';
      const set = sets.find((s) => s.owner === owner);
      if (!set) {
        process.stderr.write(`No migrations owner "${owner}". Known: ${sets.map((s) => s.owner).join(', ')}\n`);
        return 2;
      }
      const stepsText = option(args, '--steps') ?? '1';
      const steps = args.includes('--all') ? Infinity : Number(stepsText);
      if (!(steps >= 1)) {
        process.stderr.write(`--steps must be a positive number, got "${stepsText}"\n`);
        return 2;
      }
      const n = await migrateDown(database.knex, set, steps, say);
      process.stdout.write(`Reverted ${n} migration(s) of ${owner}.\n`);
    } else {
      const rows = await migrationStatus(database.knex, sets);
      for (const r of rows) {
        const state = r.missingFile ? 'applied, FILE MISSING' : r.appliedAt ? `applied ${r.appliedAt.toISOString()}` : 'pending';
        process.stdout.write(`${r.owner.padEnd(12)} ${r.name.padEnd(48)} ${state}\n`);
      }
      const pending = rows.filter((r) => !r.appliedAt).length;
      process.stdout.write(`${rows.length} migration(s), ${pending} pending.\n`);
    }
    return 0;
  } finally {
    await database.close();
  }
}

runScript('migrate', main);
