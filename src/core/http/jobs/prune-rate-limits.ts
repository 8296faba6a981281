import type { JobDefinition } from '../../jobs/job.ts';
import type { RateLimiter } from '../rate-limiter.ts';

/** Expired rate-limit windows are dropped every five minutes. */
export function pruneRateLimitsJob(rateLimiter: RateLimiter): JobDefinition {
  return {
    id: 'core.prune-rate-limits',
    every_ms: 5 * 60_000,
    timeout_ms: 30_000,
    once_across_replicas: true,
    run: async ({ log }) => {
      const removed = await rateLimiter.prune();
      log.debug({ removed }, 'pruned rate-limit windows');
    },
  };
}
