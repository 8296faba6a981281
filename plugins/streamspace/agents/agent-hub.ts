import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { Events, Logger } from '../../../src/plugin-api/index.ts';
import { agentReplaced, commandsPending } from '../events.ts';
import type { AgentStore } from './agent-store.ts';
import type { Commands, CommandTransport } from './commands.ts';
import { parseAgentMessage, type AgentMessage, type ControlMessage } from '../contract/protocol.ts';
import type { AgentLink, VncMux } from '../vnc/vnc-mux.ts';
import { agentCloseCodes } from '../contract/close-codes.ts';

export interface AgentGrant {
  agentId: string;
  /** The hash of the key the socket opened with: registration and key changes are checked against it. */
  keyHash: string;
  /** From the query; the register message's own fields win. */
  region: string | null;
}

/** Whether `keyHash` is still the current key of the agent (not revoked, not rotated). */
export type KeyCheck = (agentId: string, keyHash: string) => Promise<boolean>;

export interface AgentHubOptions {
  store: AgentStore;
  /** Binary frames and vnc_proxy_* messages go here. */
  vnc: VncMux;
  events: Events;
  /** Told to agents in `register_ack`. */
  heartbeatIntervalS: number;
  keyIsCurrent: KeyCheck;
  /** `session_status` messages of registered agents go here. */
  onSessionStatus: (agentId: string, message: Extract<AgentMessage, { type: 'session_status' }>) => Promise<void>;
  /** The sessions an agent says it has (register, or a heartbeat after a change); never called for an agent that tells none. */
  onInventory: (agentId: string, sessions: NonNullable<Extract<AgentMessage, { type: 'heartbeat' }>['sessions']>) => Promise<unknown>;
  /** Recorded with each registration, so the other replicas know where the agent's socket is. */
  replicaId: string;
  log: Logger;
}

/** Messages waiting in one connection's chain beyond which we stop reading its socket. */
const maxQueuedMessages = 64;

interface Connection extends AgentLink {
  ws: WebSocket;
  keyHash: string;
  region: string | null;
  registered: boolean;
  /** DB-touching messages are handled one after another, in the order they came. */
  chain: Promise<void>;
  queued: number;
}

/**
 * The agent connections of this replica. A connection speaks for its agent once it has
 * registered; a second registration of the same agent_id replaces the first (here, or on
 * another replica via `streamspace.agent_replaced`), and the old one's close changes nothing.
 */
export class AgentHub implements CommandTransport {
  private readonly byAgent = new Map<string, Connection>();
  private readonly connections = new Set<Connection>();
  private commands: Commands | null = null;

  private readonly store: AgentStore;
  private readonly vnc: VncMux;
  private readonly events: Events;
  private readonly heartbeatIntervalS: number;
  private readonly keyIsCurrent: KeyCheck;
  private readonly onSessionStatus: AgentHubOptions['onSessionStatus'];
  private readonly onInventory: AgentHubOptions['onInventory'];
  private readonly replicaId: string;
  private readonly log: Logger;

  constructor(options: AgentHubOptions) {
    ({
      store: this.store,
      vnc: this.vnc,
      events: this.events,
      heartbeatIntervalS: this.heartbeatIntervalS,
      keyIsCurrent: this.keyIsCurrent,
      onSessionStatus: this.onSessionStatus,
      onInventory: this.onInventory,
      replicaId: this.replicaId,
      log: this.log,
    } = options);
  }

  useCommands(commands: Commands): void {
    this.commands = commands;
  }

  connectionOf(agentId: string): string | null {
    return this.byAgent.get(agentId)?.connId ?? null;
  }

  link(agentId: string): AgentLink | null {
    return this.byAgent.get(agentId) ?? null;
  }

  send(agentId: string, connId: string, message: ControlMessage): void {
    const conn = this.byAgent.get(agentId);
    if (conn?.connId === connId) conn.send(message);
  }

  announce(agentId: string): void {
    void this.events.publish(commandsPending, null, { agent_id: agentId }).catch((err: unknown) => this.log.warn({ err }, 'could not announce pending commands'));
  }

  isLocal(agentId: string): boolean {
    return this.byAgent.has(agentId);
  }

  get size(): number {
    return this.byAgent.size;
  }

  accept(ws: WebSocket, grant: AgentGrant): void {
    const conn: Connection = {
      ws,
      connId: `conn-${randomUUID()}`,
      agentId: grant.agentId,
      keyHash: grant.keyHash,
      region: grant.region,
      registered: false,
      chain: Promise.resolve(),
      queued: 0,
      send: (message) => {
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
      },
      sendBinary: (frame) => {
        if (ws.readyState === ws.OPEN) ws.send(frame, { binary: true });
      },
    };
    this.connections.add(conn);
    const registerTimer = setTimeout(() => ws.close(agentCloseCodes.policy, 'the first message must be register'), 10_000);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        if (conn.registered) this.vnc.fromAgent(conn, data);
        return;
      }
      const parsed = parseAgentMessage(data.toString('utf8'));
      if ('problem' in parsed) {
        this.log.warn({ agent_id: conn.agentId, problem: parsed.problem, type: parsed.type }, 'ignored an agent message');
        return;
      }
      const message = parsed.message;
      if (!conn.registered && message.type !== 'register') {
        this.log.warn({ agent_id: conn.agentId, type: message.type }, 'ignored a message before register');
        return;
      }
      if (message.type.startsWith('vnc_proxy_')) {
        this.vnc.control(conn, message as Extract<AgentMessage, { proxy_id: string }>);
        return;
      }
      // An agent sending faster than we can store stops being read until we catch up.
      conn.queued += 1;
      if (conn.queued === maxQueuedMessages) ws.pause();
      conn.chain = conn.chain
        .then(() => this.handle(conn, message, registerTimer))
        .catch((err: unknown) => this.log.error({ err, agent_id: conn.agentId, type: message.type }, 'agent message failed'))
        .finally(() => {
          conn.queued -= 1;
          if (conn.queued === maxQueuedMessages - 1 && ws.readyState === ws.OPEN) ws.resume();
        });
    });
    ws.on('close', () => {
      clearTimeout(registerTimer);
      this.connections.delete(conn);
      this.vnc.linkGone(conn.connId);
      if (this.byAgent.get(conn.agentId) !== conn) return;
      this.byAgent.delete(conn.agentId);
      conn.chain = conn.chain
        .then(async () => {
          if (await this.store.disconnected(conn.agentId, conn.connId)) this.log.info({ agent_id: conn.agentId, conn_id: conn.connId }, 'agent offline (disconnected)');
        })
        .catch((err: unknown) => this.log.warn({ err, agent_id: conn.agentId }, 'could not record the agent offline'));
    });
  }

  private async handle(conn: Connection, message: AgentMessage, registerTimer: NodeJS.Timeout): Promise<void> {
    const commands = this.commands as Commands;
    switch (message.type) {
      case 'register': {
        if (message.agent_id !== conn.agentId) {
          conn.ws.close(agentCloseCodes.policy, 'agent_id does not match the key');
          return;
        }
        if (conn.registered) return;
        try {
          await this.register(conn, message);
          clearTimeout(registerTimer);
        } catch (err) {
          this.log.error({ err, agent_id: conn.agentId }, 'agent registration failed');
          conn.ws.close(1011, 'registration failed; reconnect');
        }
        return;
      }
      case 'heartbeat':
        if (!conn.registered) return;
        if (!(await this.store.heartbeat(conn.agentId, conn.connId, message.capacity))) {
          conn.ws.close(agentCloseCodes.stale, 'this connection no longer speaks for the agent; reconnect and register');
          return;
        }
        if (message.sessions) await this.onInventory(conn.agentId, message.sessions);
        return;
      case 'command_ack':
        await commands.acknowledged(conn.agentId, message.command_id);
        return;
      case 'command_result':
        await commands.resulted(conn.agentId, message);
        return;
      case 'session_status':
        await this.onSessionStatus(conn.agentId, message);
        return;
      default:
        return;
    }
  }

  private async register(conn: Connection, message: Extract<AgentMessage, { type: 'register' }>): Promise<void> {
    // The key is checked again here: one revoked or rotated since the upgrade opens nothing.
    if (!(await this.keyIsCurrent(conn.agentId, conn.keyHash))) {
      conn.ws.close(agentCloseCodes.revoked, 'agent key revoked or rotated');
      return;
    }
    const region = message.region || conn.region;
    const { replaced } = await this.store.register({
      agentId: conn.agentId,
      platform: message.platform,
      region,
      capacity: message.capacity,
      metadata: message.metadata,
      connId: conn.connId,
      replicaId: this.replicaId,
    });
    if (conn.ws.readyState !== conn.ws.OPEN) {
      // It closed while we were recording it: undo, or the agent would look online until the sweep.
      await this.store.disconnected(conn.agentId, conn.connId);
      return;
    }
    const previous = this.byAgent.get(conn.agentId);
    this.byAgent.set(conn.agentId, conn);
    conn.registered = true;
    if (previous && previous !== conn) previous.ws.close(agentCloseCodes.replaced, 'replaced by a newer connection');
    if (replaced && replaced !== previous?.connId) await this.events.publish(agentReplaced, null, { agent_id: conn.agentId, conn_id: conn.connId });
    conn.send({ type: 'register_ack', agent_id: conn.agentId, status: 'registered', heartbeat_interval: `${this.heartbeatIntervalS}s` });
    this.log.info({ agent_id: conn.agentId, conn_id: conn.connId, platform: message.platform, replaced: previous !== undefined || replaced !== null }, 'agent registered');
    await (this.commands as Commands).resume(conn.agentId, conn.connId);
    // After the resume: what was already on its way is not sent twice by reconciliation.
    if (message.sessions) await this.onInventory(conn.agentId, message.sessions);
  }

  /**
   * Another replica registered a connection for the agent: ours goes, unless it is the
   * current one after all (events can arrive late, after a newer connection came here).
   */
  async replacedElsewhere(agentId: string): Promise<void> {
    const conn = this.byAgent.get(agentId);
    if (!conn) return;
    const row = await this.store.get(agentId);
    if (row?.websocket_conn_id !== conn.connId) conn.ws.close(agentCloseCodes.replaced, 'replaced by a newer connection');
  }

  /** The agent's key was revoked or rotated: every connection opened with another key goes, registered or not. */
  async keyChanged(agentId: string): Promise<void> {
    for (const conn of [...this.connections]) {
      if (conn.agentId !== agentId) continue;
      if (!(await this.keyIsCurrent(agentId, conn.keyHash))) conn.ws.close(agentCloseCodes.revoked, 'agent key revoked or rotated');
    }
  }

  /** Closes exactly that connection if it is here (swept offline elsewhere). */
  closeConnection(agentId: string, connId: string, code: number, reason: string): void {
    const conn = this.byAgent.get(agentId);
    if (conn?.connId === connId) conn.ws.close(code, reason);
  }

  closeAll(): void {
    for (const conn of this.connections) conn.ws.close(agentCloseCodes.shutdown, 'control plane shutting down');
  }
}
