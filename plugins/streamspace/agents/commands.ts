import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Logger } from '../../../src/plugin-api/index.ts';
import type { StreamspaceConfig } from '../config.ts';
import type { CommandType, ControlMessage } from '../contract/protocol.ts';

export type CommandStatus = 'pending' | 'sent' | 'acknowledged' | 'completed' | 'failed' | 'timed_out';
export const finalStatuses: ReadonlySet<CommandStatus> = new Set(['completed', 'failed', 'timed_out']);

export interface CommandRow {
  command_id: string;
  agent_id: string;
  session_id: string | null;
  command_type: CommandType;
  data: Record<string, unknown>;
  status: CommandStatus;
  attempts: number;
  result: Record<string, unknown> | null;
  error: string | null;
  error_code: string | null;
  sent_conn_id: string | null;
  created_at: Date;
  sent_at: Date | null;
  acknowledged_at: Date | null;
  completed_at: Date | null;
}

/** What the command log needs from the agent connections of this replica. */
export interface CommandTransport {
  /** The id of this replica's connection to the agent, or null when it is not connected here. */
  connectionOf(agentId: string): string | null;
  /** Sends on that connection (if it is still the agent's). */
  send(agentId: string, connId: string, message: ControlMessage): void;
  /** Tells the other replicas there is work for an agent they may hold. */
  announce(agentId: string): void;
}

/** Runs in the transaction that ends the command, so its effects (the session's move) commit with it. */
export type CommandEnded = (row: CommandRow, trx: Knex.Transaction) => Promise<void>;

const open = ['pending', 'sent', 'acknowledged'];

export interface CommandsOptions {
  db: Knex;
  /** This replica's agent connections (the hub). */
  transport: CommandTransport;
  config: StreamspaceConfig['commands'];
  log: Logger;
}

/**
 * The durable command log: `pending → sent → acknowledged → completed | failed | timed_out`.
 * A command is written before it is sent, sent again when its ack does not come, and given
 * up after `max_attempts`; one for an agent that is away waits `reconnect_wait_ms` for it.
 * Acks and results count only from the agent the command was for.
 */
export class Commands {
  private readonly waiters = new Map<string, Set<() => void>>();
  private onEnded: CommandEnded = async () => undefined;
  private onLateSuccess: CommandEnded = async () => undefined;

  private readonly db: Knex;
  private readonly transport: CommandTransport;
  private readonly config: StreamspaceConfig['commands'];
  private readonly log: Logger;

  constructor(options: CommandsOptions) {
    ({ db: this.db, transport: this.transport, config: this.config, log: this.log } = options);
  }

  /** Set once by the session service, which moves sessions on when their commands end (and cleans up after late successes). */
  whenEnded(handler: CommandEnded, late: CommandEnded): void {
    this.onEnded = handler;
    this.onLateSuccess = late;
  }

  /** Writes the command (in the caller's transaction); call `dispatch` after it commits. */
  async add(trx: Knex, input: { agentId: string; sessionId: string | null; type: CommandType; data: Record<string, unknown> }): Promise<string> {
    const commandId = `cmd-${randomUUID()}`;
    await trx('streamspace_commands').insert({ command_id: commandId, agent_id: input.agentId, session_id: input.sessionId, command_type: input.type, data: JSON.stringify(input.data) });
    return commandId;
  }

  /** Sends this agent's pending commands, oldest first, if it is connected here; otherwise tells the replica that has it. */
  async dispatch(agentId: string): Promise<void> {
    const pending = await this.db('streamspace_commands').where({ agent_id: agentId, status: 'pending' }).orderBy('created_at').select<CommandRow[]>('*');
    for (const row of pending) if (!(await this.send(row, ['pending']))) return this.transport.announce(agentId);
  }

  /**
   * After a (re)connection: what was sent on an older connection may have been lost with it,
   * so it goes again (counted as an attempt), then whatever is pending.
   */
  async resume(agentId: string, connId: string): Promise<void> {
    // Acknowledged ones too: an agent that restarted after acking forgot them (agents dedupe by command_id).
    const unsure = await this.db('streamspace_commands')
      .where({ agent_id: agentId })
      .whereIn('status', ['sent', 'acknowledged'])
      .whereNot({ sent_conn_id: connId })
      .orderBy('created_at')
      .select<CommandRow[]>('*');
    for (const row of unsure) {
      if (row.status === 'sent' && row.attempts >= this.config.max_attempts) continue;
      await this.send(row, [row.status]);
    }
    await this.dispatch(agentId);
  }

  /** Claims the command (so two dispatches never both send it), then sends it; false when the agent is not connected here. */
  private async send(row: CommandRow, from: string[]): Promise<boolean> {
    const connId = this.transport.connectionOf(row.agent_id);
    if (connId === null) return false;
    const claimed = await this.db('streamspace_commands')
      .where({ command_id: row.command_id })
      .whereIn('status', from)
      .modify((q) => {
        if (!from.includes('pending')) void q.where('attempts', row.attempts);
      })
      .update({ status: 'sent', attempts: this.db.raw('attempts + 1'), sent_at: this.db.fn.now(), sent_conn_id: connId });
    if (claimed > 0) this.transport.send(row.agent_id, connId, { type: 'command', command_id: row.command_id, command_type: row.command_type, session_id: row.session_id, data: row.data });
    return true;
  }

  async acknowledged(agentId: string, commandId: string): Promise<void> {
    const n = await this.db('streamspace_commands')
      .where({ command_id: commandId, agent_id: agentId })
      .whereIn('status', ['pending', 'sent'])
      .update({ status: 'acknowledged', acknowledged_at: this.db.fn.now() });
    if (n === 0) this.log.info({ agent_id: agentId, command_id: commandId }, 'ignored an ack for a command this agent does not have open');
  }

  async resulted(agentId: string, message: { command_id: string; status: 'completed' | 'failed'; result?: Record<string, unknown>; error?: string; error_code?: string }): Promise<void> {
    const row = await this.db.transaction(async (trx) => {
      const [ended] = await trx('streamspace_commands')
        .where({ command_id: message.command_id, agent_id: agentId })
        .whereIn('status', open)
        .update({
          status: message.status,
          completed_at: trx.fn.now(),
          acknowledged_at: trx.raw('COALESCE(acknowledged_at, now())'),
          result: message.result === undefined ? null : JSON.stringify(message.result),
          error: message.status === 'failed' ? (message.error ?? 'failed') : null,
          error_code: message.status === 'failed' ? (message.error_code ?? null) : null,
        })
        .returning<CommandRow[]>('*');
      if (ended) await this.onEnded(ended, trx);
      else if (message.status === 'completed') {
        // A success after we gave up on the command: its effects (a running container) may need undoing.
        const late = await trx('streamspace_commands').where({ command_id: message.command_id, agent_id: agentId, status: 'timed_out' }).first<CommandRow | undefined>();
        if (late) await this.onLateSuccess(late, trx);
      }
      return ended;
    });
    if (!row) {
      this.log.info({ agent_id: agentId, command_id: message.command_id }, 'ignored a result for a command this agent does not have open');
      return;
    }
    this.wake(row.command_id);
  }

  private wake(commandId: string): void {
    for (const wake of this.waiters.get(commandId) ?? []) wake();
    this.waiters.delete(commandId);
  }

  /** The command once it has ended, or null if it has not within `timeoutMs` (results from other replicas are seen by polling). */
  async waitFor(commandId: string, timeoutMs: number): Promise<CommandRow | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const row = await this.get(commandId);
      if (!row || finalStatuses.has(row.status)) return row ?? null;
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const set = this.waiters.get(commandId) ?? new Set();
        this.waiters.set(commandId, set);
        const wake = (): void => {
          clearTimeout(timer);
          set.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, Math.min(left, 250));
        set.add(wake);
      });
      // Results handled on another replica never wake us here: do not keep an empty set per command.
      if (this.waiters.get(commandId)?.size === 0) this.waiters.delete(commandId);
    }
  }

  async get(commandId: string): Promise<CommandRow | undefined> {
    return this.db('streamspace_commands').where({ command_id: commandId }).first<CommandRow | undefined>();
  }

  async forSession(sessionId: string): Promise<CommandRow[]> {
    return this.db('streamspace_commands').where({ session_id: sessionId }).orderBy('created_at').select<CommandRow[]>('*');
  }

  /** Drops finished commands older than `keepDays` (log results can be large). */
  async prune(keepDays: number): Promise<number> {
    const gone = await this.db('streamspace_commands')
      .whereIn('status', [...finalStatuses])
      .where('completed_at', '<', this.db.raw(`now() - make_interval(days => ?::int)`, [keepDays]))
      .delete()
      .returning('command_id');
    return gone.length;
  }

  /** A forced end: the session's open commands will not be sent (again), so the agent gets no storm of them later. */
  async supersede(trx: Knex, sessionId: string): Promise<void> {
    await trx('streamspace_commands')
      .where({ session_id: sessionId })
      .whereIn('status', open)
      .update({ status: 'failed', error: 'superseded by a forced termination', error_code: 'SUPERSEDED', completed_at: trx.fn.now() });
  }

  /**
   * Resends what was not acknowledged (for agents connected here) and times out what waited
   * too long. Each step is one conditional UPDATE, so replicas running it at once agree.
   */
  async sweep(isLocal: (agentId: string) => boolean): Promise<void> {
    const c = this.config;
    const secs = (ms: number) => this.db.raw(`now() - make_interval(secs => ?::double precision)`, [ms / 1000]);
    // Each time-out and its effects commit together, like a result.
    const timeOut = async (select: (db: Knex) => Knex.QueryBuilder, error: string, code: string): Promise<void> => {
      const ended = await this.db.transaction(async (trx) => {
        const rows = await select(trx).update({ status: 'timed_out', error, error_code: code, completed_at: trx.fn.now() }).returning<CommandRow[]>('*');
        for (const row of rows) await this.onEnded(row, trx);
        return rows;
      });
      for (const row of ended) this.wake(row.command_id);
    };
    // A forced stop waits for its agent however long it is away: the session is already gone
    // here, and the agent must still be told to stop what it runs.
    await timeOut(
      (db) =>
        db('streamspace_commands')
          .where({ status: 'pending' })
          .where('created_at', '<', secs(c.reconnect_wait_ms))
          .whereNot((q) => void q.where({ command_type: 'stop_session' }).whereRaw(`data->>'graceful' = 'false'`)),
      'the agent was not connected',
      'AGENT_OFFLINE',
    );
    await timeOut(
      (db) => db('streamspace_commands').where({ status: 'sent' }).where('attempts', '>=', c.max_attempts).where('sent_at', '<', secs(c.ack_timeout_ms)),
      `not acknowledged after ${c.max_attempts} attempts`,
      'COMMAND_NOT_ACKNOWLEDGED',
    );
    await timeOut((db) => db('streamspace_commands').where({ status: 'acknowledged' }).where('acknowledged_at', '<', secs(c.result_timeout_ms)), 'no result in time', 'COMMAND_RESULT_TIMEOUT');
    await timeOut(
      (db) =>
        db('streamspace_commands')
          .where({ status: 'sent' })
          .where('sent_at', '<', secs(Math.max(c.reconnect_wait_ms, c.ack_timeout_ms)))
          .whereIn('agent_id', db('streamspace_agents').where({ connected: false }).select('agent_id')),
      'the agent disconnected and did not come back in time',
      'AGENT_OFFLINE',
    );
    // Pending work for agents connected here (a dispatch lost to a database blip or a missed event).
    const waiting = await this.db('streamspace_commands').where({ status: 'pending' }).distinct('agent_id').pluck('agent_id');
    for (const agentId of waiting as string[]) if (isLocal(agentId)) await this.dispatch(agentId);
    const unacked = await this.db('streamspace_commands').where({ status: 'sent' }).where('attempts', '<', c.max_attempts).where('sent_at', '<', secs(c.ack_timeout_ms)).select<CommandRow[]>('*');
    for (const row of unacked) {
      if (!isLocal(row.agent_id)) continue;
      this.log.info({ agent_id: row.agent_id, command_id: row.command_id, attempt: row.attempts + 1 }, 'command not acknowledged; sending it again');
      await this.send(row, ['sent']);
    }
  }
}
