import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { StartupError, systemCode } from './startup-error.ts';

/** The directory itself when it exists, else its nearest existing ancestor (where it would be created). */
function nearestExisting(dir: string): string {
  for (let current = dir; ; current = dirname(current)) {
    try {
      statSync(current);
      return current;
    } catch (err) {
      // ENOTDIR: a parent is a file; going up finds it, and the check below names it.
      const missing = systemCode(err) === 'ENOENT' || systemCode(err) === 'ENOTDIR';
      if (!missing || dirname(current) === current) return current;
    }
  }
}

/**
 * DATA_DIR holds the embedded database, local instances and backups. It is checked at boot, and
 * nothing is created by the check: the directory (or, when it does not exist yet, the nearest
 * existing parent, where it will be made) must be a directory this process may write. A
 * directory that is not stops the boot with a line that says so, instead of a stack trace from
 * whichever module touches it first.
 */
export function checkDataDir(dataDir: string): void {
  const dir = resolve(dataDir);
  const existing = nearestExisting(dir);
  let reason: string | null = null;
  let cause: unknown;
  try {
    if (!statSync(existing).isDirectory()) reason = `${existing === dir ? 'it' : existing} is a file, not a directory`;
    else accessSync(existing, constants.W_OK | constants.X_OK);
  } catch (err) {
    cause = err;
    const code = systemCode(err);
    const where = existing === dir ? '' : ` (${existing}, where it would be created)`;
    reason = code === 'EACCES' || code === 'EPERM' ? `permission denied${where}` : code === 'EROFS' ? `the file system is read-only${where}` : `${err instanceof Error ? err.message : String(err)}`;
  }
  if (reason === null) return;
  const user = process.getuid ? ` (uid ${process.getuid()})` : '';
  throw new StartupError('DATA_DIR', `cannot write to ${dir}: ${reason}; make it a directory this user${user} can write, or set DATA_DIR to one`, { cause });
}
