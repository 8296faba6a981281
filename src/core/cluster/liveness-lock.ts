import { randomInt } from 'node:crypto';
import pg from 'pg';
import type { Logger } from '../log/logger.ts';

/**
 * The first key of every replica's liveness lock (the two-key form of PostgreSQL's advisory
 * locks, which no single-key lock of the migrator or the job ledger can collide with).
 */
export const livenessLockSpace = 0x7265706c; // "repl"
const lockConnectTimeoutMs = 2_000;

/**
 * A session advisory lock `(livenessLockSpace, key)` held on a connection of its own for as long
 * as the replica runs. When the process dies (SIGKILL, a crash, the machine going down with its
 * connection closed) PostgreSQL ends the session and the lock is free at once; the others read
 * that in `pg_locks`. Session locks do not work through a pool, hence the dedicated connection.
 * If that connection drops while the replica lives, the lock is lost (the others then see this
 * replica leave) and `hold()` takes a new one at the next heartbeat.
 */
export class LivenessLock {
  private client: pg.Client | null = null;
  private heldKey: number | null = null;

  constructor(private readonly options: { url: string; replicaId: string; log: Logger }) {}

  /** The key of the lock this replica holds, taking one first when it holds none. */
  async hold(): Promise<number> {
    if (this.client && this.heldKey !== null) return this.heldKey;
    const client = new pg.Client({
      connectionString: this.options.url,
      application_name: `panel replica ${this.options.replicaId}`.slice(0, 63),
      keepAlive: true,
      // Bounded, so a heartbeat during an outage fails and the next one tries again.
      connectionTimeoutMillis: lockConnectTimeoutMs,
      query_timeout: lockConnectTimeoutMs,
    });
    const lost = (err?: unknown): void => {
      if (this.client !== client) return;
      this.client = null;
      this.heldKey = null;
      this.options.log.warn({ err }, 'replica liveness lock lost with its connection; the others see this replica leave until the next heartbeat takes a new one');
    };
    client.on('error', lost);
    client.on('end', () => lost());
    try {
      await client.connect();
      // A random key, tried until free: keys are per database, and only live replicas hold any.
      for (;;) {
        const key = randomInt(1, 2 ** 31 - 1);
        const result = await client.query<{ held: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS held', [livenessLockSpace, key]);
        if (result.rows[0]?.held) {
          this.client = client;
          this.heldKey = key;
          return key;
        }
      }
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
  }

  /** Ends the session, which frees the lock. */
  async release(): Promise<void> {
    const client = this.client;
    this.client = null;
    this.heldKey = null;
    await client?.end().catch(() => undefined);
  }
}
