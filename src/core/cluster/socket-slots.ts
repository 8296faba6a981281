import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Logger } from '../log/logger.ts';
import { ServiceUnavailableError } from '../http/errors.ts';
import type { SlotAcquisition, SlotCap, SlotConnection, SocketSlot } from '../../plugin-api/limits.ts';
import { liveReplicaSql, type Heartbeat } from './replica-registry.ts';

export interface SocketSlotsOptions {
  db: Knex;
  log: Logger;
  replicaId: string;
}

/** The SQLSTATE of a foreign-key violation: this replica's registry row is not there. */
const foreignKeyViolation = '23503';

/**
 * Socket caps counted in PostgreSQL, so a cap holds across every replica. An open socket holds
 * one slot, a row per cap it counts against, tagged with the replica that holds the socket.
 * Only slots of live replicas count (joined against the registry by the database's clock);
 * a replica's rows are deleted when it stops and, by a cascade from `replicas`, when the others
 * give it up after it stopped heart-beating.
 *
 * Taking a slot is atomic across replicas: one transaction takes an advisory lock per key (in
 * key order, so two sockets with the same keys cannot deadlock), counts, and inserts; a
 * concurrent taker of the same key waits for the lock and then sees the committed row.
 */
export class SocketSlots {
  /** Slots this replica holds, with their keys: re-inserted if the registry lost this replica's row. */
  private readonly held = new Map<string, readonly string[]>();
  /** Releases that could not reach the database; retried after each heartbeat. */
  private readonly unreleased = new Set<string>();
  /** After stop every row of this replica is gone; sockets closing later have nothing to free. */
  private stopped = false;

  constructor(private readonly options: SocketSlotsOptions) {}

  get size(): number {
    return this.held.size;
  }

  /** One slot under every cap, or none; freed when `connection` closes (or by `release`). */
  async acquire(caps: readonly SlotCap[], connection: SlotConnection): Promise<SlotAcquisition> {
    const keys = [...new Set(caps.map((c) => c.key))].sort();
    if (keys.length !== caps.length) throw new Error('each cap of one slot needs its own key');
    const slotId = randomUUID();
    let slot: SocketSlot | null = null;
    const onClose = (): void => void slot?.release();
    // Listening before the first await, so a connection that closes mid-way is not missed.
    connection.once('close', onClose);
    let refused: { cap: SlotCap; held: number } | null;
    try {
      refused = await this.take(slotId, caps, keys);
    } catch (err) {
      connection.removeListener('close', onClose);
      throw err;
    }
    if (refused) {
      connection.removeListener('close', onClose);
      return { ok: false, ...refused };
    }
    this.held.set(slotId, keys);
    let released: Promise<void> | null = null;
    slot = { id: slotId, release: () => (released ??= this.release(slotId)) };
    if (connection.destroyed) await slot.release();
    return { ok: true, slot };
  }

  private async take(slotId: string, caps: readonly SlotCap[], keys: readonly string[]): Promise<{ cap: SlotCap; held: number } | null> {
    const { db, replicaId } = this.options;
    try {
      return await db.transaction(async (trx) => {
        for (const key of keys) await trx.raw(`SELECT pg_advisory_xact_lock(hashtext('socket-slot'), hashtext(?))`, [key]);
        const counted = await trx.raw<{ rows: Array<{ key: string; n: number }> }>(
          `SELECT s.key, count(*)::int AS n FROM socket_slots s
             JOIN replicas r ON r.id = s.replica_id AND ${liveReplicaSql}
            WHERE s.key = ANY(?) GROUP BY s.key`,
          [[...keys]],
        );
        const heldBy = new Map(counted.rows.map((r) => [r.key, r.n]));
        for (const cap of caps) {
          const held = heldBy.get(cap.key) ?? 0;
          if (held >= cap.limit) return { cap, held };
        }
        await trx('socket_slots').insert(keys.map((key) => ({ slot_id: slotId, key, replica_id: replicaId })));
        return null;
      });
    } catch (err) {
      if ((err as { code?: string }).code === foreignKeyViolation) {
        throw new ServiceUnavailableError('REPLICA_NOT_REGISTERED', 'This API instance is not in the replica registry right now (its database heartbeat is failing); retry', 1);
      }
      throw err;
    }
  }

  /** Idempotent; a release the database did not take is retried after the next heartbeat. */
  private async release(slotId: string): Promise<void> {
    this.held.delete(slotId);
    if (this.stopped) return;
    try {
      await this.options.db('socket_slots').where({ slot_id: slotId }).delete();
      this.unreleased.delete(slotId);
    } catch (err) {
      this.unreleased.add(slotId);
      this.options.log.warn({ err, slot_id: slotId }, 'could not release a socket slot; retrying after the next heartbeat');
    }
  }

  /** After each heartbeat: retries failed releases, and puts back the slots of open sockets if this replica's row had been given up. */
  async afterHeartbeat(beat: Heartbeat): Promise<void> {
    const { db, replicaId } = this.options;
    if (this.unreleased.size > 0) {
      const ids = [...this.unreleased];
      await db('socket_slots').whereIn('slot_id', ids).delete();
      for (const id of ids) this.unreleased.delete(id);
    }
    if (beat.rejoined && this.held.size > 0) {
      // The sockets are still open, so they count again, even if that puts a cap over its limit
      // until some close: the others gave out places while this replica seemed gone.
      const rows = [...this.held].flatMap(([slotId, keys]) => keys.map((key) => ({ slot_id: slotId, key, replica_id: replicaId })));
      for (let at = 0; at < rows.length; at += 1000)
        await db('socket_slots')
          .insert(rows.slice(at, at + 1000))
          .onConflict(['slot_id', 'key'])
          .ignore();
      this.options.log.info({ slots: this.held.size }, 'put back the socket slots of this replica after it joined again');
    }
  }

  /** Clean stop: this replica's slots stop counting at once (its sockets are closing). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.held.clear();
    this.unreleased.clear();
    await this.options.db('socket_slots').where({ replica_id: this.options.replicaId }).delete();
  }
}
