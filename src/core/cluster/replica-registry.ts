import type { Knex } from 'knex';
import type { Logger } from '../log/logger.ts';

/** How often a replica renews its row. */
export const replicaHeartbeatMs = 2_000;
/**
 * A replica not heard from for this long has left: it is no longer counted (poll shares, any
 * replica-wide split) and the next heartbeat of any replica deletes its row. Five missed beats,
 * so a slow database moment does not make a live replica leave.
 */
export const replicaStaleSeconds = 10;

/** One replica as the others see it. */
export interface ReplicaRow {
  id: string;
  /** Where the other replicas reach it (config `cluster.internal_url`, else its listening address); null until it listens. */
  internal_url: string | null;
  started_at: Date;
  heartbeat_at: Date;
}

export interface ReplicaRegistryOptions {
  db: Knex;
  log: Logger;
  replicaId: string;
  /** Read at every heartbeat: the address is known only once the HTTP server listens. */
  internalUrl: () => string | null;
  heartbeatMs?: number;
}

/** What a heartbeat found, for those who keep per-replica rows in step with the registry (socket slots). */
export interface Heartbeat {
  /**
   * This replica's row had gone (the others gave it up while it could not beat) and was
   * created again: whatever hung off the old row (its socket slots) went with it.
   */
  rejoined: boolean;
}

/**
 * The replicas of this deployment, in PostgreSQL (the one engine they share): each records its
 * id, internal address and a heartbeat, and removes itself when it stops. A replica that dies
 * without stopping leaves within `replicaStaleSeconds`, by the database's clock, so replicas
 * with skewed clocks agree on who is live.
 */
export class ReplicaRegistry {
  private timer: NodeJS.Timeout | null = null;
  private beating: Promise<void> | null = null;
  private failures = 0;
  /** `started_at` of this replica's row; a later beat that sees another value re-created the row. */
  private startedAt: number | null = null;
  private readonly listeners: Array<(beat: Heartbeat) => Promise<void>> = [];

  constructor(private readonly options: ReplicaRegistryOptions) {}

  get replicaId(): string {
    return this.options.replicaId;
  }

  /** Records this replica (the first heartbeat must succeed: a replica that cannot reach the database does not boot), then renews it. */
  async start(): Promise<void> {
    await this.heartbeat();
    this.schedule();
  }

  /** Called after every heartbeat that reached the database; a failing listener is logged, never fails the beat. */
  onHeartbeat(listener: (beat: Heartbeat) => Promise<void>): void {
    this.listeners.push(listener);
  }

  /** Renews this replica's row and removes the rows of replicas that stopped heart-beating. */
  async heartbeat(): Promise<void> {
    const { db, replicaId, internalUrl } = this.options;
    const result = await db.raw<{ rows: Array<{ started_at: Date }> }>(
      `INSERT INTO replicas (id, internal_url, heartbeat_at) VALUES (?, ?, now())
       ON CONFLICT (id) DO UPDATE SET internal_url = excluded.internal_url, heartbeat_at = now()
       RETURNING started_at`,
      [replicaId, internalUrl()],
    );
    await db.raw(`DELETE FROM replicas WHERE heartbeat_at < now() - make_interval(secs => ?)`, [replicaStaleSeconds]);
    const startedAt = new Date(result.rows[0]?.started_at ?? 0).getTime();
    const rejoined = this.startedAt !== null && startedAt !== this.startedAt;
    this.startedAt = startedAt;
    if (rejoined) this.options.log.warn({ replica_id: replicaId }, 'this replica had been given up by the others (no heartbeat for too long) and joined again');
    for (const listener of this.listeners) {
      await listener({ rejoined }).catch((err: unknown) => this.options.log.warn({ err }, 'a heartbeat listener failed'));
    }
  }

  /** The replicas heard from within `replicaStaleSeconds`, oldest first. */
  async live(): Promise<ReplicaRow[]> {
    const result = await this.options.db.raw<{ rows: ReplicaRow[] }>(
      `SELECT id, internal_url, started_at, heartbeat_at FROM replicas
        WHERE heartbeat_at > now() - make_interval(secs => ?) ORDER BY started_at, id`,
      [replicaStaleSeconds],
    );
    return result.rows;
  }

  /** Stops renewing and removes this replica's row, so the others take over its share at once. */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.beating;
    await this.options.db('replicas').where({ id: this.options.replicaId }).delete();
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.beating = this.heartbeat()
        .then(() => {
          if (this.failures > 0) this.options.log.info({ failures: this.failures }, 'replica heartbeat recovered');
          this.failures = 0;
        })
        .catch((err: unknown) => {
          // A database outage: keep trying; the others see this replica leave after replicaStaleSeconds.
          this.failures += 1;
          if (this.failures === 1) this.options.log.warn({ err }, 'replica heartbeat failed; retrying');
        })
        .finally(() => {
          this.beating = null;
          if (this.timer) this.schedule();
        });
    }, this.options.heartbeatMs ?? replicaHeartbeatMs);
    this.timer.unref();
  }
}
