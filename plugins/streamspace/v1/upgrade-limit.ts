import type { RateLimiter } from '../../../src/plugin-api/index.ts';
import { v1Errors } from './api-errors.ts';
import type { Bucket } from './buckets.ts';

/** WebSocket upgrades have limits of their own and do not count against the REST ones (addendum); past them, the seed's 429. */
export async function limitUpgrade(limiter: RateLimiter, bucket: Bucket, ip: string): Promise<void> {
  const state = await limiter.consume(bucket, `ip:${ip}`);
  if (!state.allowed) throw v1Errors.rateLimited(Math.max(1, Math.ceil((state.resetAt.getTime() - Date.now()) / 1000)));
}
