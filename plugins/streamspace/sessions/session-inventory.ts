import type { Knex } from 'knex';
import { z } from 'zod';
import type { Audit, Events, Logger } from '../../../src/plugin-api/index.ts';
import type { Commands } from '../agents/commands.ts';
import type { InventoryEntry } from '../contract/protocol.ts';
import { sessionReconciled, sessionState } from '../events.ts';
import { phaseOf } from './session-machine.ts';
import type { SessionRow, SessionStore } from './session-store.ts';

export interface SessionInventoryOptions {
  db: Knex;
  store: SessionStore;
  commands: Commands;
  events: Events;
  audit: Audit;
  log: Logger;
}

/** What reconciliation did to one session. */
export type ReconcileAction = 'failed' | 'stop' | 'hibernate';
interface Move {
  action: ReconcileAction;
  reason: string;
}

/** Agent states in which a session's desktop is up (the desktop agent says `starting` while it opens). */
const upThere = new Set(['running', 'starting']);

const lostMessage = 'Its agent no longer has this session (the agent restarted or lost it). Delete it, or create a new session';

/**
 * An agent told the sessions it has (`sessions` in register or heartbeat): each of ours on
 * that agent is brought in line through the state machine, audited and announced.
 * - `running` here, absent there → `failed` (SESSION_LOST). Not re-dispatched: a template
 *   says nothing about whether a fresh desktop may replace a lost one (its unsaved work).
 * - `terminated` here, present there → a forced stop.
 * - `hibernated` here, up there → a hibernate.
 * Sessions with a command in flight are left to its result; transitional states never move.
 */
export class SessionInventory {
  constructor(private readonly options: SessionInventoryOptions) {}

  async received(agentId: string, sessions: readonly InventoryEntry[]): Promise<number> {
    const { db, commands } = this.options;
    const there = new Map(sessions.map((s) => [s.session_id, s]));
    // Our session ids are UUIDs; anything else is not ours (and would fail the query).
    const listed = [...there.keys()].filter((id) => z.uuid().safeParse(id).success);
    const rows = await db('streamspace_sessions')
      .where((q) => {
        void q.where({ agent_id: agentId, state: 'running' });
        if (listed.length > 0) void q.orWhereIn('id', listed);
      })
      .select<SessionRow[]>('*');
    let moves = 0;
    for (const row of rows) {
      const entry = there.get(row.id);
      const move = await db.transaction(async (trx) => this.reconcile(trx, agentId, row, entry));
      if (!move) continue;
      moves += 1;
      // After the commit: the audit log writes on its own connection.
      await this.options.audit.record({
        action: `streamspace.session_reconciled_${move.action}`,
        actorUserId: null,
        targetUserId: row.user_id,
        details: { session_id: row.id, agent_id: agentId, reason: move.reason },
      });
      this.options.log.warn({ session_id: row.id, agent_id: agentId, ...move }, 'session reconciled with its agent');
    }
    if (moves > 0) await commands.dispatch(agentId);
    return moves;
  }

  private async reconcile(trx: Knex.Transaction, agentId: string, row: SessionRow, entry: InventoryEntry | undefined): Promise<Move | null> {
    const { store, commands } = this.options;
    if (row.agent_id !== agentId) return null;
    if (!entry) {
      if (row.state !== 'running') return null;
      if (!(await store.move(trx, row.id, ['running'], 'failed', { message: lostMessage, error_code: 'SESSION_LOST' }))) return null;
      await this.options.events.publish(sessionState, row.user_id, { session_id: row.id, state: 'failed', phase: phaseOf.failed }, trx);
      return this.done(trx, agentId, row, 'failed', 'running here, absent on its agent');
    }
    const wanted = row.state === 'terminated' ? 'stop_session' : row.state === 'hibernated' && upThere.has(entry.state) ? 'hibernate_session' : null;
    if (!wanted) return null;
    // Locks the session row, so two inventories (or a user's change) never both send one.
    const locked = await trx('streamspace_sessions').where({ id: row.id, state: row.state }).forUpdate().first<SessionRow | undefined>();
    if (!locked) return null;
    const inFlight: unknown = await trx('streamspace_commands').where({ session_id: row.id, agent_id: agentId }).whereIn('status', ['pending', 'sent', 'acknowledged']).first();
    if (inFlight) return null;
    await commands.add(trx, { agentId, sessionId: row.id, type: wanted, data: { name: row.name, namespace: row.namespace, ...(wanted === 'stop_session' ? { graceful: false, timeout: '0s' } : {}) } });
    return wanted === 'stop_session'
      ? this.done(trx, agentId, row, 'stop', `terminated here, ${entry.state} on its agent`)
      : this.done(trx, agentId, row, 'hibernate', `hibernated here, ${entry.state} on its agent`);
  }

  /** Announced in the transaction, so the event goes out only if the move commits. */
  private async done(trx: Knex.Transaction, agentId: string, row: SessionRow, action: ReconcileAction, reason: string): Promise<Move> {
    await this.options.events.publish(sessionReconciled, row.user_id, { session_id: row.id, agent_id: agentId, action, reason }, trx);
    return { action, reason };
  }
}
