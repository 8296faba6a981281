import { setFlagsFromString } from 'node:v8';
import { PGlite, type PGliteOptions } from '@electric-sql/pglite';

/**
 * The embedded database runs inside the API's process, and WebAssembly memory only grows: any
 * page PostgreSQL touches once (shared buffers zeroed at start, a sort's work_mem, an index
 * build's maintenance_work_mem) stays in the API's RSS for good. So PGlite is sized for one
 * process serving one panel, not for a database server. docs/architecture.md#the-embedded-database.
 */
export interface PgliteTuning {
  /** PostgreSQL's shared_buffers; PGlite's build defaults to 128 MB, all of it resident. */
  shared_buffers_mb: number;
  /** Let V8 recompile PGlite's hot WebAssembly with its optimising tier (TurboFan). */
  optimize_wasm: boolean;
}

export const defaultPgliteTuning: PgliteTuning = { shared_buffers_mb: 16, optimize_wasm: false };

/** PostgreSQL settings for one process; each bounds memory that, once touched, is never given back. */
export function pgliteSettings(tuning: PgliteTuning): Record<string, string> {
  return {
    shared_buffers: `${tuning.shared_buffers_mb}MB`,
    // Per sort or hash; a query over the panel's own tables needs far less than the 4 MB default.
    work_mem: '2MB',
    // CREATE INDEX in migrations; the 64 MB default would stay resident after the first one.
    maintenance_work_mem: '16MB',
    // Only for temporary tables, which the API does not use.
    temp_buffers: '1MB',
    // Lock and process tables are sized from it; PGlite is one session (the default is 100).
    max_connections: '10',
    // Nothing replicates from an embedded database: WAL only for crash recovery, less written
    // (CREATE TABLE and bulk loads in the transaction that made the table skip it).
    wal_level: 'minimal',
    max_wal_senders: '0',
    // Bounds the WAL kept on disk (default 1 GB / 80 MB) for a database of a few megabytes.
    max_wal_size: '64MB',
    min_wal_size: '32MB',
  };
}

/** PGlite's own start parameters (single-user mode, no parallel workers), then ours. */
export function pgliteOptions(tuning: PgliteTuning): PGliteOptions {
  const settings = Object.entries(pgliteSettings(tuning)).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
  return { startParams: [...PGlite.defaultStartParams, ...settings] };
}

let wasmTierChosen = false;

/**
 * PGlite is 9 MB of WebAssembly. V8 compiles it at once with its baseline compiler (Liftoff)
 * and then recompiles hot functions with TurboFan in background threads; for this workload
 * the recompiling costs more than it gains (measured: ~80 MiB more RSS, twice the CPU to
 * start and to run 3,000 small queries). The flag must be set before the module is compiled,
 * and is process-wide: it touches no other WebAssembly (the API has none on PostgreSQL).
 */
export function chooseWasmTier(tuning: PgliteTuning): void {
  if (wasmTierChosen) return;
  wasmTierChosen = true;
  if (!tuning.optimize_wasm) setFlagsFromString('--liftoff-only');
}
