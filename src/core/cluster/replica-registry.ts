import type { Knex } from 'knex';
import type { Logger } from '../log/logger.ts';
import { LivenessLock, livenessLockSpace } from './liveness-lock.ts';

/** How often a replica renews its row. */
export const replicaHeartbeatMs = 2_000;
/**
 * A replica not heard from for this long has left: it is no longer counted (poll shares, any
 * replica-wide split) and the next heartbeat of any replica deletes its row. Five missed beats,
 * so a slow database moment does not make a live replica leave. A replica that dies leaves
 * sooner, at once, through its liveness lock (see `liveReplicaSql`); this window is for one that
 * hangs or loses the database while its session stays open.
 */
export const replicaStaleSeconds = 10;

/**
 * The one definition of a live replica, as SQL over `replicas r`: heard from within
 * `replicaStaleSeconds` by the database's clock and, when it recorded a liveness lock, still
 * holding it (its session is open). Every replica-wide split (src/core/instances/poll-share.ts)
 * reads the registry through this, so all replicas agree on who is live.
 */
export const liveReplicaSql = `r.heartbeat_at > now() - interval '${replicaStaleSeconds} seconds'
  AND (r.lock_key IS NULL OR r.lock_key::oid IN (
    SELECT l.objid FROM pg_locks l
     WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND l.classid = ${livenessLockSpace}
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())))`;

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
  /** The PostgreSQL server's URL, for the liveness lock's own connection; null (the embedded database): no lock, the heartbeat alone. */
  lockUrl?: string | null;
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
 * id, internal address, a heartbeat and the key of the liveness lock it holds, and removes
 * itself when it stops. A replica that dies without stopping leaves as soon as its database
 * session ends (the lock frees), and at the latest `replicaStaleSeconds` after its last beat,
 * by the database's clock, so replicas with skewed clocks agree on who is live.
 */
export class ReplicaRegistry {
  private timer: NodeJS.Timeout | null = null;
  private beating: Promise<void> | null = null;
  private failures = 0;
  private readonly lock: LivenessLock | null;
  /** `started_at` of this replica's row; a later beat that sees another value re-created the row. */
  private startedAt: number | null = null;
  private readonly listeners: Array<(beat: Heartbeat) => Promise<void>> = [];

  constructor(private readonly options: ReplicaRegistryOptions) {
    this.lock = options.lockUrl ? new LivenessLock({ url: options.lockUrl, replicaId: options.replicaId, log: options.log }) : null;
  }

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

  /**
   * Renews this replica's row (taking its liveness lock again first if its connection dropped)
   * and removes the rows of replicas that are no longer live.
   */
  async heartbeat(): Promise<void> {
    const { db, replicaId, internalUrl } = this.options;
    const lockKey = this.lock ? await this.lock.hold() : null;
    const result = await db.raw<{ rows: Array<{ started_at: Date }> }>(
      `INSERT INTO replicas (id, internal_url, lock_key, heartbeat_at) VALUES (?, ?, ?, now())
       ON CONFLICT (id) DO UPDATE SET internal_url = excluded.internal_url, lock_key = excluded.lock_key, heartbeat_at = now()
       RETURNING started_at`,
      [replicaId, internalUrl(), lockKey],
    );
    await db.raw(`DELETE FROM replicas r WHERE NOT (${liveReplicaSql})`);
    const startedAt = new Date(result.rows[0]?.started_at ?? 0).getTime();
    const rejoined = this.startedAt !== null && startedAt !== this.startedAt;
    this.startedAt = startedAt;
    if (rejoined) this.options.log.warn({ replica_id: replicaId }, 'this replica had been given up by the others (no heartbeat for too long) and joined again');
    for (const listener of this.listeners) {
      await listener({ rejoined }).catch((err: unknown) => this.options.log.warn({ err }, 'a heartbeat listener failed'));
    }
  }

  /** The live replicas (`liveReplicaSql`), oldest first. */
  async live(): Promise<ReplicaRow[]> {
    const result = await this.options.db.raw<{ rows: ReplicaRow[] }>(`SELECT r.id, r.internal_url, r.started_at, r.heartbeat_at FROM replicas r WHERE ${liveReplicaSql} ORDER BY r.started_at, r.id`);
    return result.rows;
  }

  /** One live replica (`liveReplicaSql`), or undefined when it has left (or never was). */
  async find(replicaId: string): Promise<ReplicaRow | undefined> {
    const result = await this.options.db.raw<{ rows: ReplicaRow[] }>(`SELECT r.id, r.internal_url, r.started_at, r.heartbeat_at FROM replicas r WHERE r.id = ? AND ${liveReplicaSql}`, [replicaId]);
    return result.rows[0];
  }

  /** Stops renewing, removes this replica's row and frees its lock, so the others take over its share at once. */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.beating;
    try {
      await this.options.db('replicas').where({ id: this.options.replicaId }).delete();
    } finally {
      await this.lock?.release();
    }
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
