import { readdirSync, existsSync } from 'node:fs';
import { join, extname, basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Knex } from 'knex';

/** The migrations one owner (the core, or one plugin) brings, tracked apart from the others. */
export interface MigrationSet {
  owner: string;
  dir: string;
}

export interface MigrationStatus {
  owner: string;
  name: string;
  appliedAt: Date | null;
  /** Recorded as applied, but its file is gone: someone deleted a landed migration. */
  missingFile: boolean;
}

interface MigrationModule {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

interface MigrationFile {
  name: string;
  file: string;
}

const ledger = 'schema_migrations';
const lockSql = `SELECT pg_advisory_xact_lock(hashtext('panel:migrations'))`;

/** Names are recorded without extension, so running from .ts sources or compiled .js agrees. */
export function listMigrationFiles(dir: string): MigrationFile[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /\.(ts|js|mjs)$/.test(f) && !f.endsWith('.d.ts'))
    .sort()
    .map((f) => ({ name: basename(f, extname(f)), file: join(dir, f) }));
}

async function loadModule(file: string): Promise<MigrationModule> {
  const mod = (await import(pathToFileURL(file).href)) as Partial<MigrationModule>;
  if (typeof mod.up !== 'function' || typeof mod.down !== 'function') {
    throw new Error(`Migration ${file} must export async functions up(knex) and down(knex)`);
  }
  return mod as MigrationModule;
}

/** Creates the ledger; the advisory lock keeps replicas booting together from racing on it. */
async function ensureLedger(knex: Knex): Promise<void> {
  await knex.transaction(async (trx) => {
    await trx.raw(lockSql);
    await trx.raw(`CREATE TABLE IF NOT EXISTS ${ledger} (
      owner text NOT NULL,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (owner, name))`);
  });
}

async function appliedNames(knex: Knex, owner: string): Promise<Map<string, Date>> {
  const rows = await knex(ledger).where({ owner }).select<Array<{ name: string; applied_at: Date }>>('name', 'applied_at');
  return new Map(rows.map((r) => [r.name, new Date(r.applied_at)]));
}

export type MigrationLog = (event: { owner: string; name: string; direction: 'up' | 'down' }) => void;

/**
 * Applies every pending migration, owners in the given order. Each migration runs in its own
 * transaction holding a transaction-scoped advisory lock and re-checks the ledger inside it,
 * so replicas starting together apply each migration once, and a crash mid-way leaves no
 * half-applied migration and no stuck lock.
 */
export async function migrateUp(knex: Knex, sets: readonly MigrationSet[], onApply?: MigrationLog): Promise<number> {
  await ensureLedger(knex);
  let applied = 0;
  for (const set of sets) {
    const done = await appliedNames(knex, set.owner);
    for (const migration of listMigrationFiles(set.dir)) {
      if (done.has(migration.name)) continue;
      const mod = await loadModule(migration.file);
      const ran = await knex.transaction(async (trx) => {
        await trx.raw(lockSql);
        const already: unknown = await trx(ledger).where({ owner: set.owner, name: migration.name }).first();
        if (already) return false;
        await mod.up(trx);
        await trx(ledger).insert({ owner: set.owner, name: migration.name });
        return true;
      });
      if (ran) {
        applied += 1;
        onApply?.({ owner: set.owner, name: migration.name, direction: 'up' });
      }
    }
  }
  return applied;
}

/** Reverts the newest `steps` applied migrations of one owner (all of them with Infinity). */
export async function migrateDown(knex: Knex, set: MigrationSet, steps: number, onRevert?: MigrationLog): Promise<number> {
  await ensureLedger(knex);
  const files = new Map(listMigrationFiles(set.dir).map((m) => [m.name, m.file]));
  const applied = [...(await appliedNames(knex, set.owner)).keys()].sort().reverse().slice(0, steps);
  let reverted = 0;
  for (const name of applied) {
    const file = files.get(name);
    if (!file) throw new Error(`Cannot revert ${set.owner}/${name}: its file is missing from ${set.dir}`);
    const mod = await loadModule(file);
    await knex.transaction(async (trx) => {
      await trx.raw(lockSql);
      const deleted = await trx(ledger).where({ owner: set.owner, name }).delete();
      if (deleted === 0) return;
      await mod.down(trx);
      reverted += 1;
    });
    onRevert?.({ owner: set.owner, name, direction: 'down' });
  }
  return reverted;
}

export async function migrationStatus(knex: Knex, sets: readonly MigrationSet[]): Promise<MigrationStatus[]> {
  await ensureLedger(knex);
  const out: MigrationStatus[] = [];
  for (const set of sets) {
    const done = await appliedNames(knex, set.owner);
    const files = listMigrationFiles(set.dir);
    for (const m of files) out.push({ owner: set.owner, name: m.name, appliedAt: done.get(m.name) ?? null, missingFile: false });
    const known = new Set(files.map((m) => m.name));
    for (const [name, at] of done) if (!known.has(name)) out.push({ owner: set.owner, name, appliedAt: at, missingFile: true });
  }
  return out;
}

/** Cheap check for /readyz: how many known migrations are not applied. */
export async function countPending(knex: Knex, sets: readonly MigrationSet[]): Promise<number> {
  const rows = await knex(ledger).select<Array<{ owner: string; name: string }>>('owner', 'name');
  const applied = new Set(rows.map((r) => `${r.owner}/${r.name}`));
  let pending = 0;
  for (const set of sets) for (const m of listMigrationFiles(set.dir)) if (!applied.has(`${set.owner}/${m.name}`)) pending += 1;
  return pending;
}
