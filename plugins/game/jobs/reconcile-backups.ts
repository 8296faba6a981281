import type { JobDefinition } from '../../../src/plugin-api/index.ts';
import type { BackupSync } from '../backup-sync.ts';

/** Brings backup records up to date with their agents, whether or not anybody asks. */
export function reconcileBackupsJob(sync: BackupSync, everyMs: number): JobDefinition {
  return { id: 'game.backups-reconcile', every_ms: everyMs, timeout_ms: 60_000, once_across_replicas: true, run: () => sync.tick() };
}
