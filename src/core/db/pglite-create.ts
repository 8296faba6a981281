import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { chooseWasmTier, pgliteOptions, type PgliteTuning } from './pglite-tuning.ts';

const self = fileURLToPath(import.meta.url);

/** Whether `dir` holds a database already (initdb writes PG_VERSION first). */
export const hasDatabase = (dir: string): boolean => existsSync(join(dir, 'PG_VERSION'));

/**
 * Creates the embedded database in `dir` (PGlite's initdb) in a child process that exits
 * afterwards. In the API's own process initdb would leave its WebAssembly memory behind: a
 * first start measured 630 MiB of it, held for the life of the process, against 150 MiB when
 * the same process opens a database that already exists.
 */
export async function createPgliteInChild(dir: string, tuning: PgliteTuning): Promise<void> {
  // From the sources (tests, scripts) the child needs tsx as this process did; compiled, plain node.
  const loader = self.endsWith('.ts') ? ['--import', import.meta.resolve('tsx')] : [];
  await new Promise<void>((resolve, reject) => {
    execFile(process.execPath, [...loader, self, dir, JSON.stringify(tuning)], { encoding: 'utf8', maxBuffer: 4 << 20 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`creating the embedded database in ${dir} failed: ${stderr.trim() || err.message}`));
      else resolve();
    });
  });
}

// As a child: create, close (a checkpoint: the parent opens a consistent directory), exit.
if (process.argv[1] === self) {
  const [dir, tuningJson] = process.argv.slice(2) as [string, string];
  const tuning = JSON.parse(tuningJson) as PgliteTuning;
  chooseWasmTier(tuning);
  const pglite = new PGlite(dir, pgliteOptions(tuning));
  await pglite.waitReady;
  await pglite.close();
}
