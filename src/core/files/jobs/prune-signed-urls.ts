import type { JobDefinition } from '../../jobs/job.ts';
import type { SignedUrls } from '../signed-urls.ts';

/** Spent and expired signed-URL grants are dropped hourly. */
export function pruneSignedUrlsJob(signed: SignedUrls): JobDefinition {
  return { id: 'core.signed-urls-prune', every_ms: 3_600_000, timeout_ms: 60_000, once_across_replicas: true, run: async () => void (await signed.prune()) };
}
