import { createHash } from 'node:crypto';
import type { Knex } from 'knex';

export interface RateLimitRule {
  limit: number;
  window_s: number;
}

export interface RateLimitState {
  limit: number;
  remaining: number;
  /** When the current window ends. */
  resetAt: Date;
  allowed: boolean;
}

/**
 * Fixed-window counters kept in PostgreSQL, so every replica counts against the same
 * numbers. One upsert per check; windows are computed from the database clock so replicas
 * with skewed clocks still agree on the window.
 */
export class RateLimiter {
  constructor(
    private readonly db: Knex,
    private readonly rules: Readonly<Record<string, RateLimitRule>>,
  ) {}

  has(name: string): boolean {
    return Object.hasOwn(this.rules, name);
  }

  async consume(name: string, subject: string): Promise<RateLimitState> {
    const rule = this.rules[name];
    if (!rule) throw new Error(`Unknown rate limit "${name}": add it to rate_limits in config`);
    // Hashing bounds the key's size and keeps emails and IPs out of the table.
    const key = `${name}:${createHash('sha256').update(subject).digest('base64url').slice(0, 32)}`;
    const result = await this.db.raw<{ rows: Array<{ hits: number; reset_at: Date }> }>(
      `INSERT INTO rate_limit_buckets AS b (key, window_start, hits, expires_at)
       SELECT ?, w.start, 1, w.start + make_interval(secs => ?::int)
       FROM (SELECT to_timestamp(floor(extract(epoch FROM now()) / ?::int) * ?::int) AS start) AS w
       ON CONFLICT (key) DO UPDATE SET
         hits = CASE WHEN b.window_start = EXCLUDED.window_start THEN b.hits + 1 ELSE 1 END,
         window_start = EXCLUDED.window_start,
         expires_at = EXCLUDED.expires_at
       RETURNING hits::int AS hits, expires_at AS reset_at`,
      [key, rule.window_s, rule.window_s, rule.window_s],
    );
    const row = result.rows[0];
    if (!row) throw new Error('rate limit upsert returned no row');
    return {
      limit: rule.limit,
      remaining: Math.max(0, rule.limit - row.hits),
      resetAt: new Date(row.reset_at),
      allowed: row.hits <= rule.limit,
    };
  }

  /** Drops windows that ended; run by the scheduler. */
  async prune(): Promise<number> {
    const result = await this.db.raw<{ rows: Array<{ n: number }> }>(`WITH gone AS (DELETE FROM rate_limit_buckets WHERE expires_at < now() RETURNING 1) SELECT count(*)::int AS n FROM gone`);
    return result.rows[0]?.n ?? 0;
  }
}
