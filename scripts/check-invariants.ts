import { loadConfig } from '../src/config/load.ts';
import { openDatabase } from '../src/core/db/database.ts';
import { Plans } from '../src/core/billing/plans.ts';
import { pluginMigrationSets, preparePlugins } from '../src/core/plugin-host/plugin-host.ts';
import { coreMigrationsDir } from '../src/core/db/database-module.ts';
import { migrationStatus } from '../src/core/db/migrator.ts';
import { checkInvariants, formatInvariantReport } from '../src/core/invariants/check-invariants.ts';
import { panelInvariants } from '../src/core/invariants/panel-invariants.ts';
import { runScript } from './lib/run-script.ts';
import { shippedPlugins } from '../plugins/index.ts';

const help = `Usage: npm run check-invariants -- [options]

Checks the panel's stored data against its consistency rules (the core's and every enabled
plugin's: src/core/invariants/, each plugin's "invariants"), for example after a crash. Prints
PASS or FAIL for each rule; for a failure, the ids of the offending rows, what it means and
what to do. Ends with one JSON line. Reads only; safe against a live panel.

Uses the server's configuration (DATABASE_URL, or the embedded database in DATA_DIR, which
only works while no server has it open; PLUGINS; the billing plans).

Options:
  --database-url <url>     check this PostgreSQL database instead of DATABASE_URL
  --grace-seconds <n>      how long past a deadline or lease still counts as work a running
                           server is about to pick up (default 120; 0 on a stopped, settled panel)
  -h, --help               show this help

Exit status: 0 every rule holds, 1 a rule is broken (or its check failed), 2 bad usage or a
database with migrations pending (run npm run migrate -- up, or start the server, first).

Examples:
  DATABASE_URL=postgres://panel@db/panel npm run check-invariants
  npm run check-invariants -- --database-url postgres://panel@db/panel --grace-seconds 0
`;

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function main(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(help);
    return 0;
  }
  const known = new Set(['--database-url', '--grace-seconds']);
  const unknown = args.filter((a, i) => a.startsWith('-') && !known.has(a) && !known.has(args[i - 1] ?? ''));
  if (unknown.length > 0) {
    process.stderr.write(`Unknown option ${unknown.join(', ')}.\n\n${help}`);
    return 2;
  }
  const graceText = option(args, '--grace-seconds') ?? '120';
  const graceS = Number(graceText);
  if (!(graceS >= 0)) {
    process.stderr.write(`--grace-seconds must be a number of seconds >= 0, got "${graceText}"\n`);
    return 2;
  }
  const url = option(args, '--database-url');
  const config = loadConfig(url ? { overrides: [{ database: { url } }] } : {});
  const plugins = preparePlugins(shippedPlugins, config.plugins.enabled, config.plugins.config);
  const invariants = panelInvariants(new Plans(config.billing.plans, config.billing.default_plan), plugins);
  const database = await openDatabase(config.database);
  try {
    // The rules are written against the current schema; on an older one they would only fail to run.
    const pending = (await migrationStatus(database.knex, [{ owner: 'core', dir: coreMigrationsDir }, ...pluginMigrationSets(plugins)])).filter((m) => !m.appliedAt);
    if (pending.length > 0) {
      process.stderr.write(
        `The database has ${pending.length} migration(s) pending (${pending
          .slice(0, 3)
          .map((m) => `${m.owner}/${m.name}`)
          .join(', ')}${pending.length > 3 ? ', ...' : ''}); run npm run migrate -- up (or start the server) first.\n`,
      );
      return 2;
    }
    const started = Date.now();
    const results = await checkInvariants(invariants, { db: database.knex, graceMs: graceS * 1000 });
    process.stdout.write(formatInvariantReport(results));
    const failed = results.filter((r) => !r.ok);
    const summary = {
      ok: failed.length === 0,
      checked: results.length,
      failed: failed.length,
      duration_ms: Date.now() - started,
      invariants: results.map((r) => ({ id: r.id, ok: r.ok, offending: r.offending, ...(r.error ? { error: r.error } : {}) })),
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return failed.length === 0 ? 0 : 1;
  } finally {
    await database.close();
  }
}

runScript('check-invariants', main);
