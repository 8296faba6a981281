import type { Knex } from 'knex';
import type { RateLimiter } from '../http/rate-limiter.ts';
import type { JobDefinition } from './job.ts';
import { pruneLedger } from './run-ledger.ts';

/** Housekeeping the core itself needs. */
export function coreJobs(knex: Knex, rateLimiter: RateLimiter): JobDefinition[] {
  return [
    {
      id: 'core.prune-rate-limits',
      every_ms: 5 * 60_000,
      timeout_ms: 30_000,
      once_across_replicas: true,
      run: async ({ log }) => {
        const removed = await rateLimiter.prune();
        log.debug({ removed }, 'pruned rate-limit windows');
      },
    },
    {
      id: 'core.prune-job-ledger',
      cron: '17 3 * * *',
      timeout_ms: 60_000,
      once_across_replicas: true,
      run: async () => {
        await pruneLedger(knex, 7);
      },
    },
  ];
}
