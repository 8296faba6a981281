import type { Knex } from 'knex';
import type { JobDefinition } from '../job.ts';
import { pruneLedger } from '../run-ledger.ts';

/** The ledger of job runs keeps a week. */
export function pruneJobLedgerJob(db: Knex): JobDefinition {
  return { id: 'core.prune-job-ledger', cron: '17 3 * * *', timeout_ms: 60_000, once_across_replicas: true, run: async () => void (await pruneLedger(db, 7)) };
}
