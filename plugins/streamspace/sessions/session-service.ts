import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { AppError, type Accounts, type Events, type Logger, type Principal } from '../../../src/plugin-api/index.ts';
import { sessionState } from '../events.ts';
import { v1Errors } from '../v1/api-errors.ts';
import type { AgentStore } from '../agents/agent-store.ts';
import type { Commands, CommandRow } from '../agents/commands.ts';
import type { StreamspaceConfig } from '../config.ts';
import { placeSession } from './placement.ts';
import { durationSeconds } from '../contract/duration.ts';
import type { CommandType } from '../contract/protocol.ts';
import { afterCommand, planDelete, planPatch, transitionalStates, type Plan, type SessionState } from './session-machine.ts';
import { sessionView, type SessionRow, type SessionStatus, type SessionStore, type SessionView } from './session-store.ts';
import type { Templates } from '../templates/template-store.ts';

export interface NewSession {
  user?: string;
  template: string;
  name?: string;
  platform?: string;
  region?: string;
  state: 'running' | 'hibernated';
  resources?: { memory?: string; cpu?: string };
  persistent_home?: boolean;
  idle_timeout?: string;
  tags: string[];
}

const isUniqueViolation = (err: unknown): boolean => typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23505';
const slug = (s: string): string =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');

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
 * Sessions: creation with placement, state changes through the machine, forced ends, logs,
 * and the moves that command results, idleness and the reconciler make. Every state change
 * is a compare-and-set and is announced as `streamspace.session_state` (VNC viewers close on it).
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
    this.commands.whenEnded(
      (row, trx) => this.commandEnded(row, trx),
      (row, trx) => this.lateSuccess(row, trx),
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
      const idleTimeout = input.idle_timeout ?? template.idle_timeout;
      const resources = { ...template.default_resources, ...input.resources };
      const persistentHome = input.persistent_home ?? template.persistent_home;
      const name = input.name ?? `${slug(owner.username)}-${template.name}-${randomBytes(3).toString('hex')}`.slice(0, 63);
      const agent = await placeSession(trx, { platform: input.platform, region: input.region, localCapable: template.local !== null });
      let inserted: Array<{ id: string }>;
      try {
        inserted = await trx('streamspace_sessions')
          .insert({
            name,
            namespace: this.config.namespace,
            user_id: owner.id,
            template: template.name,
            platform: agent.platform,
            region: agent.region,
            agent_id: agent.agent_id,
            state: 'pending',
            resources: JSON.stringify(resources),
            persistent_home: persistentHome,
            idle_timeout: idleTimeout,
            idle_timeout_s: durationSeconds(idleTimeout) ?? 1800,
            tags: JSON.stringify(input.tags),
            // The template's VNC port until the agent reports the one it opened.
            status: JSON.stringify({ message: 'Session provisioning in progress...', vnc_port: template.vnc.port }),
            platform_metadata: JSON.stringify({ namespace: this.config.namespace, deployment_name: name, service_name: name, ...(persistentHome ? { pvc_name: `${name}-home` } : {}) }),
          })
          .returning('id');
      } catch (err) {
        if (isUniqueViolation(err)) throw v1Errors.sessionExists(name);
        throw err;
      }
      const id = (inserted[0] as { id: string }).id;
      await this.commands.add(trx, {
        agentId: agent.agent_id,
        sessionId: id,
        type: 'start_session',
        data: {
          name,
          namespace: this.config.namespace,
          user: owner.username,
          template: template.name,
          image: template.base_image,
          resources,
          vnc: template.vnc,
          local: template.local,
          persistent_home: persistentHome,
          environment: template.environment,
          state: input.state,
        },
      });
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
    await this.announce(sessionId);
  }

  private async announce(sessionId: string, trx?: Knex.Transaction): Promise<void> {
    const row = await this.store.get(sessionId, trx);
    if (row) await this.events.publish(sessionState, row.user_id, { session_id: row.id, state: row.state, phase: sessionView(row).status.phase }, trx);
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
      await this.announce(row.id, trx);
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
