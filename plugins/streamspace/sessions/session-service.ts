import type { Knex } from 'knex';
import { AppError, type Accounts, type Events, type Logger, type Principal } from '../../../src/plugin-api/index.ts';
import { v1Errors } from '../v1/api-errors.ts';
import type { AgentStore } from '../agents/agent-store.ts';
import type { Commands } from '../agents/commands.ts';
import type { StreamspaceConfig } from '../config.ts';
import { placeSession } from './placement.ts';
import { announceSession, SessionCommandOutcomes } from './session-command-outcomes.ts';
import { insertSession, type NewSession } from './session-creation.ts';
import { planDelete, planPatch, transitionalStates, type Plan, type SessionState } from './session-machine.ts';
import { sessionView, type SessionRow, type SessionStore, type SessionView } from './session-store.ts';
import type { Templates } from '../templates/template-store.ts';

export interface SessionServiceOptions {
  db: Knex;
  store: SessionStore;
  templates: Templates;
  agents: AgentStore;
  /** Its command results move sessions on: the service hooks itself in with `whenEnded`. */
  commands: Commands;
  accounts: Accounts;
  events: Events;
  config: StreamspaceConfig;
  log: Logger;
}

/**
 * Sessions: creation with placement, state changes through the machine, forced ends, logs and
 * idleness; the moves that command results and the reconciler make are SessionCommandOutcomes'.
 * Every state change is a compare-and-set and is announced as `streamspace.session_state` (VNC viewers close on it).
 */
export class SessionService {
  private readonly db: Knex;
  private readonly store: SessionStore;
  private readonly templates: Templates;
  private readonly agents: AgentStore;
  private readonly commands: Commands;
  private readonly accounts: Accounts;
  private readonly events: Events;
  private readonly config: StreamspaceConfig;
  private readonly log: Logger;
  private readonly outcomes: SessionCommandOutcomes;

  constructor(options: SessionServiceOptions) {
    ({
      db: this.db,
      store: this.store,
      templates: this.templates,
      agents: this.agents,
      commands: this.commands,
      accounts: this.accounts,
      events: this.events,
      config: this.config,
      log: this.log,
    } = options);
    this.outcomes = new SessionCommandOutcomes(options);
    this.commands.whenEnded(
      (row, trx) => this.outcomes.commandEnded(row, trx),
      (row, trx) => this.outcomes.lateSuccess(row, trx),
    );
  }

  /** Another user's session is not found (addendum), so existence does not leak. */
  async visible(id: string, principal: Principal): Promise<SessionRow> {
    const row = await this.store.get(id);
    if (!row || (principal.role !== 'admin' && row.user_id !== principal.userId)) throw v1Errors.sessionNotFound(id);
    return row;
  }

  async create(input: NewSession, principal: Principal): Promise<SessionView> {
    const owner = await this.ownerFor(input.user, principal);
    const { sessionId, agentId } = await this.db.transaction(async (trx) => {
      const template = await this.templates.getForUse(trx, input.template);
      if (!template) throw v1Errors.templateNotFound(input.template, 400);
      const agent = await placeSession(trx, { platform: input.platform, region: input.region, localCapable: template.local !== null });
      const id = await insertSession(trx, this.commands, { namespace: this.config.namespace, input, owner, template, agent });
      return { sessionId: id, agentId: agent.agent_id };
    });
    await this.afterChange(sessionId, agentId);
    return sessionView(await this.mustGet(sessionId));
  }

  /** PATCH: 200 with the final state if the agent answered within `state_wait_ms`, else 202 with the transitional one. */
  async patch(id: string, target: SessionState, principal: Principal): Promise<{ status: 200 | 202; session: SessionView }> {
    const row = await this.visible(id, principal);
    const plan = planPatch(row.state, target, principal.role === 'admin');
    if (plan.kind === 'admin_only') throw v1Errors.insufficientPermissions("Only admins can force a session to 'terminated'; use DELETE to end your own session");
    if (plan.kind === 'invalid') throw v1Errors.invalidTransition(row.state, target);
    if (plan.kind === 'noop') return { status: 200, session: sessionView(row) };
    if (plan.kind === 'force') return { status: 200, session: await this.forceTerminate(row) };
    if (plan.kind !== 'command') throw v1Errors.invalidTransition(row.state, target);
    const commandId = await this.begin(row, plan, target);
    const ended = await this.commands.waitFor(commandId, this.config.state_wait_ms);
    const now = await this.mustGet(id);
    if (ended === null || transitionalStates.has(now.state)) return { status: 202, session: sessionView(now) };
    if (ended.status !== 'completed' && now.state !== 'terminated') {
      const message = now.status.message;
      if (plan.command === 'wake_session') throw new AppError(500, 'SESSION_PROVISIONING_FAILED', 'Failed to provision session', message, { state: now.state, agent_error_code: ended.error_code });
      throw v1Errors.commandFailed(message, ended.error_code);
    }
    return { status: 200, session: sessionView(now) };
  }

  /** DELETE: 204 once the stop is accepted; a no-op when terminated; 409 while terminating; `force` ends it at once. */
  async remove(id: string, force: boolean, principal: Principal): Promise<void> {
    const row = await this.visible(id, principal);
    const plan = planDelete(row.state, force);
    if (plan.kind === 'noop') return;
    if (plan.kind === 'terminating') throw v1Errors.sessionTerminating(id);
    if (plan.kind === 'force') {
      await this.forceTerminate(row);
      return;
    }
    if (plan.kind === 'command') await this.begin(row, plan, 'terminating');
  }

  async logs(id: string, tail: number, timestamps: boolean, principal: Principal): Promise<string[]> {
    const row = await this.visible(id, principal);
    if (!row.agent_connected) throw v1Errors.agentOffline(row.agent_id);
    const commandId = await this.db.transaction((trx) => this.commands.add(trx, { agentId: row.agent_id, sessionId: row.id, type: 'get_session_logs', data: { tail, timestamps } }));
    await this.commands.dispatch(row.agent_id);
    const ended = await this.commands.waitFor(commandId, this.config.logs_timeout_ms);
    if (ended === null) throw v1Errors.agentTimeout('the logs request');
    if (ended.status !== 'completed') throw v1Errors.commandFailed(`The agent could not read the logs: ${ended.error ?? ended.status}`, ended.error_code);
    const logs = ended.result?.logs;
    if (!Array.isArray(logs)) throw new AppError(502, 'AGENT_BAD_RESPONSE', 'Bad agent response', 'The agent answered the logs request without a "logs" list');
    return logs.map(String);
  }

  /** Moves to the transitional state and writes the command in one transaction, then sends it. */
  private async begin(row: SessionRow, plan: Extract<Plan, { kind: 'command' }>, target: SessionState): Promise<string> {
    await this.requireReachable(row);
    const commandId = await this.db.transaction(async (trx) => {
      if (!(await this.store.move(trx, row.id, [row.state], plan.via, { message: plan.message, error_code: null }))) {
        const now = await this.store.get(row.id, trx);
        throw now?.state === 'terminating' ? v1Errors.sessionTerminating(row.id) : v1Errors.invalidTransition(now?.state ?? row.state, target);
      }
      return this.commands.add(trx, { agentId: row.agent_id, sessionId: row.id, type: plan.command, data: { name: row.name, namespace: row.namespace, ...plan.data } });
    });
    await this.afterChange(row.id, row.agent_id);
    return commandId;
  }

  /** Terminated now; open commands are superseded and one stop goes to the agent (now or when it returns). */
  private async forceTerminate(row: SessionRow): Promise<SessionView> {
    const moved = await this.db.transaction(async (trx) => {
      // Already terminated by someone else (another force, the agent's result): nothing more to send.
      if (
        !(await this.store.move(trx, row.id, ['pending', 'running', 'hibernating', 'hibernated', 'waking', 'terminating', 'failed'], 'terminated', {
          message: 'Session force terminated',
          error_code: null,
        }))
      )
        return false;
      await this.commands.supersede(trx, row.id);
      await this.commands.add(trx, { agentId: row.agent_id, sessionId: row.id, type: 'stop_session', data: { name: row.name, namespace: row.namespace, graceful: false, timeout: '0s' } });
      return true;
    });
    if (moved) await this.afterChange(row.id, row.agent_id);
    return sessionView(await this.mustGet(row.id));
  }

  /** A command can wait for an agent that is reconnecting, not for one gone longer than the window (addendum). */
  private async requireReachable(row: SessionRow): Promise<void> {
    if (row.agent_connected) return;
    const agent = await this.agents.get(row.agent_id);
    const lastSeen = agent?.last_heartbeat ? new Date(agent.last_heartbeat).getTime() : 0;
    if (Date.now() - lastSeen > this.config.commands.reconnect_wait_ms) throw v1Errors.agentOffline(row.agent_id);
  }

  private async ownerFor(username: string | undefined, principal: Principal): Promise<{ id: string; username: string }> {
    const me = await this.accounts.byId(principal.userId);
    if (!me) throw v1Errors.sessionNotFound('caller');
    if (username === undefined || username.toLowerCase() === me.username.toLowerCase()) return me;
    if (principal.role !== 'admin') throw v1Errors.insufficientPermissions('Only admins can create sessions for another user; leave out "user" to create your own');
    const other = await this.accounts.byUsername(username);
    if (!other) throw new AppError(400, 'VALIDATION_FAILED', 'Validation failed', `No user named '${username}' exists`, { field: 'user' });
    return other;
  }

  private async mustGet(id: string): Promise<SessionRow> {
    const row = await this.store.get(id);
    if (!row) throw v1Errors.sessionNotFound(id);
    return row;
  }

  private async afterChange(sessionId: string, agentId: string): Promise<void> {
    await this.commands.dispatch(agentId);
    await announceSession(this.store, this.events, sessionId);
  }

  /** Sessions without VNC activity for their `idle_timeout` hibernate. */
  async hibernateIdle(): Promise<number> {
    const idle = await this.db('streamspace_sessions as s')
      .join('streamspace_agents as a', 'a.agent_id', 's.agent_id')
      .where({ 's.state': 'running', 'a.connected': true })
      .whereRaw(`s.last_activity < now() - make_interval(secs => s.idle_timeout_s)`)
      .select<Array<{ id: string }>>('s.id');
    for (const { id } of idle) {
      const row = await this.store.get(id);
      const plan = row ? planPatch(row.state, 'hibernated', true) : null;
      if (row && plan?.kind === 'command') await this.begin(row, plan, 'hibernated').catch((err: unknown) => this.log.warn({ err, session_id: id }, 'idle hibernate failed'));
    }
    return idle.length;
  }

  /** Sessions stuck in a transitional state with no open command are moved on as if it had timed out. */
  reconcile(): Promise<number> {
    return this.outcomes.reconcile();
  }
}
