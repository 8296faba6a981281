import type { Knex } from 'knex';
import type { Events, Logger } from '../../../src/plugin-api/index.ts';
import { sessionState } from '../events.ts';
import type { Commands, CommandRow } from '../agents/commands.ts';
import type { StreamspaceConfig } from '../config.ts';
import type { CommandType } from '../contract/protocol.ts';
import { afterCommand } from './session-machine.ts';
import { sessionView, type SessionStatus, type SessionStore } from './session-store.ts';

/** Publishes a session's current state as `streamspace.session_state` (VNC viewers close on it). */
export async function announceSession(store: SessionStore, events: Events, sessionId: string, trx?: Knex.Transaction): Promise<void> {
  const row = await store.get(sessionId, trx);
  if (row) await events.publish(sessionState, row.user_id, { session_id: row.id, state: row.state, phase: sessionView(row).status.phase }, trx);
}

export interface SessionCommandOutcomesOptions {
  db: Knex;
  store: SessionStore;
  commands: Commands;
  events: Events;
  config: StreamspaceConfig;
  log: Logger;
}

/**
 * What the end of a session's command does to the session: its result (or failure, or time-out)
 * moves the session on, a start that succeeded after its time-out is undone, and a session left
 * in a transitional state with no command at all is moved on as if one had timed out. Apart from
 * SessionService, which starts the commands, because these moves come from the agents' side.
 */
export class SessionCommandOutcomes {
  private readonly db: Knex;
  private readonly store: SessionStore;
  private readonly commands: Commands;
  private readonly events: Events;
  private readonly config: StreamspaceConfig;
  private readonly log: Logger;

  constructor(options: SessionCommandOutcomesOptions) {
    ({ db: this.db, store: this.store, commands: this.commands, events: this.events, config: this.config, log: this.log } = options);
  }

  /** Moves a session on when one of its commands ends (result, failure or time-out), in the transaction that ends the command. */
  async commandEnded(command: CommandRow, trx: Knex.Transaction): Promise<void> {
    if (!command.session_id || command.command_type === 'get_session_logs') return;
    const row = await this.store.get(command.session_id, trx);
    if (!row) return;
    const initialState = command.data.state === 'hibernated' ? 'hibernated' : undefined;
    const outcome = afterCommand(command.command_type, row.state, {
      status: command.status as 'completed' | 'failed' | 'timed_out',
      error: command.error,
      errorCode: command.error_code,
      initialState,
    });
    if (!outcome) return;
    const status: Partial<SessionStatus> = {
      message: outcome.message,
      error_code: command.status === 'completed' || outcome.settled ? null : (command.error_code ?? (command.status === 'timed_out' ? 'AGENT_TIMEOUT' : 'SESSION_PROVISIONING_FAILED')),
    };
    const result = command.result ?? {};
    if (command.status === 'completed' && (command.command_type === 'start_session' || command.command_type === 'wake_session')) {
      const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);
      Object.assign(status, {
        pod_ip: text(result.pod_ip),
        pod_name: text(result.pod_name),
        container_id: text(result.container_id),
        started_at: text(result.started_at) ?? new Date().toISOString(),
        ...(typeof result.vnc_port === 'number' ? { vnc_port: result.vnc_port } : {}),
      });
    }
    if (await this.store.move(trx, row.id, [row.state], outcome.state, status)) {
      this.log.info({ session_id: row.id, command: command.command_type, outcome: command.status, from: row.state, to: outcome.state }, 'session moved by its command');
      await announceSession(this.store, this.events, row.id, trx);
    }
  }

  /** A start or wake that succeeded after we timed it out left a session running that we show as failed: stop it. */
  async lateSuccess(command: CommandRow, trx: Knex.Transaction): Promise<void> {
    if (!command.session_id || (command.command_type !== 'start_session' && command.command_type !== 'wake_session')) return;
    const row = await this.store.get(command.session_id, trx);
    if (!row || (row.state !== 'failed' && row.state !== 'terminated' && row.state !== 'hibernated')) return;
    await this.commands.add(trx, {
      agentId: command.agent_id,
      sessionId: row.id,
      type: row.state === 'hibernated' ? 'hibernate_session' : 'stop_session',
      data: { name: row.name, namespace: row.namespace, graceful: false, timeout: '0s' },
    });
    this.log.info({ session_id: row.id, command: command.command_type, state: row.state }, 'a timed-out command succeeded late on the agent; undoing it');
  }

  /** Sessions stuck in a transitional state with no open command are moved on as if it had timed out. */
  async reconcile(): Promise<number> {
    const implied: Record<string, CommandType> = { pending: 'start_session', hibernating: 'hibernate_session', waking: 'wake_session', terminating: 'stop_session' };
    const stuck = await this.db('streamspace_sessions as s')
      .whereIn('s.state', Object.keys(implied))
      .where('s.updated_at', '<', this.db.raw(`now() - make_interval(secs => ?::double precision)`, [this.config.stuck_after_ms / 1000]))
      .whereNotExists(this.db('streamspace_commands as c').whereRaw('c.session_id = s.id').whereIn('c.status', ['pending', 'sent', 'acknowledged']))
      .select<Array<{ id: string; state: string; agent_id: string }>>('s.id', 's.state', 's.agent_id');
    for (const s of stuck) {
      const implicit: CommandRow = {
        command_id: 'reconciler',
        agent_id: s.agent_id,
        session_id: s.id,
        command_type: implied[s.state] as CommandType,
        data: {},
        status: 'timed_out',
        attempts: 0,
        result: null,
        error: 'no command was in flight',
        error_code: 'RECONCILED',
        sent_conn_id: null,
        created_at: new Date(),
        sent_at: null,
        acknowledged_at: null,
        completed_at: null,
      };
      await this.db.transaction((trx) => this.commandEnded(implicit, trx));
    }
    return stuck.length;
  }
}
