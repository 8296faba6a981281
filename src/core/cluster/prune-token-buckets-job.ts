import type { JobDefinition } from '../jobs/job.ts';
import type { SharedTokenBuckets } from './shared-token-buckets.ts';

/** Token buckets nobody has drawn on for a day are full again, which a missing row also means: drop them. */
export function pruneTokenBucketsJob(buckets: SharedTokenBuckets): JobDefinition {
  return {
    id: 'core.prune-token-buckets',
    every_ms: 3_600_000,
    timeout_ms: 30_000,
    once_across_replicas: true,
    run: async ({ log }) => {
      const removed = await buckets.prune();
      log.debug({ removed }, 'pruned idle token buckets');
    },
  };
}
