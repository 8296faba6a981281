import type { Knex } from 'knex';
import type { RateDecision, SharedRateRule } from '../../plugin-api/limits.ts';
import { databaseUnavailable } from '../http/database-gate.ts';

/** Tokens this replica took from one bucket and has not spent yet. */
interface Lease {
  tokens: number;
  /** How many the last lease asked for: doubles while leases are used up, back to 1 when one expires unused. */
  size: number;
  usedUp: boolean;
  leasedAt: number;
  /** The bucket had less than a token at the last lease: nobody can get one before this. */
  emptyUntil: number;
  fetching: Promise<void> | null;
  /** Takers waiting for the lease in flight; the next lease asks for at least as many. */
  waiting: number;
}

export interface SharedTokenBucketSettings {
  /** Most tokens taken in one round trip. */
  maxBatch: number;
  /** A leased token not spent within this is dropped, so leftovers never add to a later burst. */
  leaseTtlMs: number;
  /** Longest wait for a lease; past it `take` throws (the database is unreachable), and callers decide. */
  maxWaitMs: number;
}

/** Buckets idle this long are deleted (a missing bucket is a full one); rules must refill within it. */
export const bucketIdleDays = 1;
const dayMs = 86_400_000;

/**
 * Token buckets in PostgreSQL (`token_buckets`), shared by every replica: one upsert takes up to
 * N tokens under the row's lock, refilled by the database clock, so replicas with skewed clocks
 * agree. Each replica leases tokens in small batches (1, then doubling while they are used up,
 * to `maxBatch`), so a busy bucket costs a round trip every few messages, and a quiet one
 * wastes no tokens. Leased tokens are spent only while fresh: a replica can never spend more
 * than the database granted, and spends a grant at most `leaseTtlMs` after it was made.
 */
export class SharedTokenBuckets {
  private readonly leases = new Map<string, Lease>();
  private readonly settings: SharedTokenBucketSettings;

  constructor(
    private readonly db: Knex,
    settings: Partial<SharedTokenBucketSettings> = {},
    /** False while the database server does not answer: `take` throws at once instead of queueing a lease. */
    private readonly databaseUp: () => boolean = () => true,
  ) {
    this.settings = { maxBatch: 8, leaseTtlMs: 1_000, maxWaitMs: 1_000, ...settings };
  }

  async take(key: string, rule: SharedRateRule): Promise<RateDecision> {
    if (!Number.isInteger(rule.burst) || rule.burst < 1 || !(rule.refillMs > 0) || rule.burst * rule.refillMs > bucketIdleDays * dayMs) {
      throw new Error(`token bucket ${key}: burst must be a positive integer and refill within ${bucketIdleDays} day(s)`);
    }
    const lease = this.leaseOf(key);
    // Each round either spends a token, finds the bucket short (refused), or waits for a lease
    // that grants at least one token to someone: the loop ends.
    for (;;) {
      if (this.spend(lease)) return { allowed: true, retryAfterMs: 0 };
      if (Date.now() < lease.emptyUntil) return { allowed: false, retryAfterMs: Math.max(1, lease.emptyUntil - Date.now()) };
      // Takers of one bucket on this replica share a round trip; those who come during it share the next.
      if (!this.databaseUp()) throw databaseUnavailable();
      lease.waiting += 1;
      lease.fetching ??= this.lease(key, rule, lease).finally(() => {
        lease.fetching = null;
      });
      let timer: NodeJS.Timeout | undefined;
      try {
        // A lease that never comes (a blackholed network, before the health check notices) must not
        // hold a console command for the pool's whole query timeout.
        await Promise.race([
          lease.fetching,
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(databaseUnavailable()), this.settings.maxWaitMs);
          }),
        ]);
      } finally {
        clearTimeout(timer);
        lease.waiting -= 1;
      }
    }
  }

  private leaseOf(key: string): Lease {
    let lease = this.leases.get(key);
    if (!lease) {
      if (this.leases.size >= 10_000) this.forgetIdle();
      lease = { tokens: 0, size: 0, usedUp: true, leasedAt: 0, emptyUntil: 0, fetching: null, waiting: 0 };
      this.leases.set(key, lease);
    }
    return lease;
  }

  private spend(lease: Lease): boolean {
    if (lease.tokens < 1 || Date.now() - lease.leasedAt >= this.settings.leaseTtlMs) return false;
    lease.tokens -= 1;
    if (lease.tokens < 1) lease.usedUp = true;
    return true;
  }

  private async lease(key: string, rule: SharedRateRule, lease: Lease): Promise<void> {
    const batch = lease.usedUp ? Math.min(this.settings.maxBatch, Math.max(1, lease.size * 2)) : 1;
    const want = Math.min(rule.burst, Math.max(batch, lease.waiting));
    const { granted, tokens } = await this.takeFromDatabase(key, rule, want);
    lease.tokens = granted;
    lease.size = want;
    lease.usedUp = false;
    lease.leasedAt = Date.now();
    // Fewer than asked: the bucket is down to a fraction of a token, which refills at the rule's pace.
    lease.emptyUntil = granted < want ? Date.now() + Math.ceil((1 - tokens) * rule.refillMs) : 0;
  }

  /** Up to `want` tokens, atomically: the refill since the last take is added under the row lock, by the database clock. */
  async takeFromDatabase(key: string, rule: SharedRateRule, want: number): Promise<{ granted: number; tokens: number }> {
    const result = await this.db.raw<{ rows: Array<{ granted: number; tokens: number }> }>(
      `INSERT INTO token_buckets AS b (key, tokens, granted, updated_at) VALUES (?, ?, ?, now())
       ON CONFLICT (key) DO UPDATE SET (granted, tokens, updated_at) = (
         SELECT g, a - g, now() FROM (
           SELECT a, greatest(0, least(?::int, floor(a)))::int AS g FROM (
             SELECT least(?::float8, b.tokens + greatest(0, extract(epoch FROM now() - b.updated_at)) * 1000 / ?::float8) AS a
           ) AS available
         ) AS spent
       )
       RETURNING granted, tokens`,
      [key, rule.burst - want, want, want, rule.burst, rule.refillMs],
    );
    const row = result.rows[0];
    if (!row) throw new Error('token bucket upsert returned no row');
    return { granted: Number(row.granted), tokens: Number(row.tokens) };
  }

  /** Drops buckets idle long enough to be full again; run by the scheduler. */
  async prune(): Promise<number> {
    const result = await this.db.raw<{ rows: Array<{ n: number }> }>(
      `WITH gone AS (DELETE FROM token_buckets WHERE updated_at < now() - make_interval(days => ?) RETURNING 1) SELECT count(*)::int AS n FROM gone`,
      [bucketIdleDays],
    );
    return result.rows[0]?.n ?? 0;
  }

  private forgetIdle(): void {
    const now = Date.now();
    for (const [key, lease] of this.leases) {
      if (!lease.fetching && now - lease.leasedAt >= this.settings.leaseTtlMs && now >= lease.emptyUntil) this.leases.delete(key);
    }
  }
}
