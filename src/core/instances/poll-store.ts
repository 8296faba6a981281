/**
 * How the poller's in-memory states reach the database, in two ways: a change a user can see is
 * stored and published at once, in its own transaction; every other poll result waits for a
 * batched write (the poller's flush), so thousands of routine polls cost a few statements.
 */

import type { Knex } from 'knex';
import type { EventBus } from '../events/event-bus.ts';
import { instanceState } from '../events/core-events.ts';
import { presentState, type Lifecycle } from './instance-state.ts';
import { polledLifecycles } from './poll-share.ts';
import type { Tracked } from './poll-tracked.ts';

/** States written per statement by a flush. */
export const flushBatch = 250;

/**
 * A visible change: stored and published in one transaction, with the lifecycle read from
 * the row, and only while the instance is still polled: an instance being deleted meanwhile
 * gets no late "active, unreachable" event after its deletion (`gone` is called instead, inside
 * the transaction, so the poller forgets it).
 */
export async function storeAndPublish(db: Knex, bus: EventBus, intervalMs: number, item: Tracked, gone: (id: string) => void): Promise<void> {
  await db.transaction(async (trx) => {
    const updated = await trx.raw<{ rows: Array<{ lifecycle: Lifecycle }> }>(`UPDATE instances SET state = ?::jsonb WHERE id = ? AND lifecycle = ANY(?) RETURNING lifecycle`, [
      JSON.stringify(item.polled),
      item.id,
      polledLifecycles,
    ]);
    const row = updated.rows[0];
    if (!row) {
      gone(item.id);
      return;
    }
    item.lifecycle = row.lifecycle;
    await bus.publish(instanceState, item.ownerId, { instance_id: item.id, kind: item.kind, plugin: item.plugin, state: presentState(row.lifecycle, item.polled, intervalMs) }, trx);
  });
  item.dirty = false;
  item.writtenAt = Date.now();
}

/**
 * One batch of a flush (at most flushBatch states), as one JSON document: pg's per-element
 * escaping of a text[] of JSON was half of a flush's time (profile).
 * A state already stored from a later poll is kept: a visible change is written at once by
 * its own transaction, and a batch that began before that poll finished must not put the
 * older state back over it (ISO timestamps of one format compare as text).
 */
export async function writeStates(db: Knex, items: Tracked[]): Promise<void> {
  if (items.length === 0) return;
  const written = items.map((t) => t.polled);
  await db.raw(
    `UPDATE instances AS i SET state = v.state
       FROM jsonb_to_recordset(?::jsonb) AS v(id uuid, state jsonb)
      WHERE i.id = v.id
        AND (i.state->>'checked_at' IS NULL OR v.state->>'checked_at' IS NULL OR i.state->>'checked_at' <= v.state->>'checked_at')`,
    [JSON.stringify(items.map((t, n) => ({ id: t.id, state: written[n] })))],
  );
  const at = Date.now();
  items.forEach((t, n) => {
    // A poll that finished while the statement ran is newer than what was written: still dirty.
    if (t.polled === written[n]) t.dirty = false;
    t.writtenAt = at;
  });
}
