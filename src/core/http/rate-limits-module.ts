import type { Knex } from 'knex';
import type { Config } from '../../config/schema.ts';
import type { CoreModule } from '../boot/core-module.ts';
import { RateLimiter } from './rate-limiter.ts';
import { pruneRateLimitsJob } from './jobs/prune-rate-limits.ts';

export interface RateLimitsModule extends CoreModule {
  rateLimiter: RateLimiter;
}

/** The configured limits, counted in the database so every replica shares them. */
export function createRateLimitsModule(db: Knex, config: Readonly<Config>): RateLimitsModule {
  const rateLimiter = new RateLimiter(db, config.rate_limits);
  return { name: 'rate-limits', rateLimiter, jobs: [pruneRateLimitsJob(rateLimiter)] };
}
