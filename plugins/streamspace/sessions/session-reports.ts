import type { Knex } from 'knex';
import { z } from 'zod';
import type { Audit, Events, Logger } from '../../../src/plugin-api/index.ts';
import type { AgentMessage } from '../contract/protocol.ts';
import { sessionState } from '../events.ts';
import { phaseOf } from './session-machine.ts';
import type { SessionStore } from './session-store.ts';

type SessionStatusMessage = Extract<AgentMessage, { type: 'session_status' }>;

export interface SessionReportsOptions {
  db: Knex;
  store: SessionStore;
  events: Events;
  audit: Audit;
  log: Logger;
}

/** What the session's status says, and the code it carries, for each state an agent may report. */
const reported = {
  failed: { message: (reason: string) => `The desktop failed on its agent: ${reason}. Delete it, or create a new session`, errorCode: 'SESSION_CRASHED' },
  hibernated: { message: (reason: string) => `The desktop stopped on its agent: ${reason}`, errorCode: null },
} as const;

/**
 * `session_status` from an agent: a session changed there without a command (its desktop
 * crashed, or a restarted agent found it stopped). Only a `running` session of that agent
 * moves: while a command is in flight its result decides, and a report about another agent's
 * session (or an unknown id) changes nothing.
 */
export class SessionReports {
  constructor(private readonly options: SessionReportsOptions) {}

  async received(agentId: string, message: SessionStatusMessage): Promise<void> {
    const { db, store, events, audit, log } = this.options;
    const how = reported[message.state];
    // Our session ids are UUIDs; anything else is not ours (and would fail the query).
    const ours = z.uuid().safeParse(message.session_id).success;
    const moved = !ours
      ? null
      : await db.transaction(async (trx) => {
          const row = await store.get(message.session_id, trx);
          if (!row || row.agent_id !== agentId || row.state !== 'running') return null;
          if (!(await store.move(trx, row.id, ['running'], message.state, { message: how.message(message.reason), error_code: how.errorCode }))) return null;
          await events.publish(sessionState, row.user_id, { session_id: row.id, state: message.state, phase: phaseOf[message.state] }, trx);
          return row;
        });
    if (!moved) {
      log.info({ agent_id: agentId, session_id: message.session_id, state: message.state }, 'agent session report changed nothing');
      return;
    }
    log.warn({ agent_id: agentId, session_id: moved.id, state: message.state, reason: message.reason }, 'session changed on its agent');
    await audit.record({
      action: `streamspace.session_${message.state === 'failed' ? 'failed' : 'stopped'}_on_agent`,
      actorUserId: null,
      targetUserId: moved.user_id,
      details: { session_id: moved.id, agent_id: agentId, reason: message.reason },
    });
  }
}
