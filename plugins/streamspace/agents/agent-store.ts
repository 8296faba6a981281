import type { Knex } from 'knex';

export type AgentStatus = 'online' | 'offline' | 'draining';

export interface Capacity {
  max_cpu?: number;
  max_memory?: number;
  max_sessions?: number;
  current_sessions?: number;
}

export interface AgentRow {
  id: string;
  agent_id: string;
  platform: string;
  region: string | null;
  connected: boolean;
  draining: boolean;
  capacity: Capacity;
  metadata: Record<string, unknown>;
  websocket_conn_id: string | null;
  /** The replica holding that connection (null before replicas were recorded). */
  replica_id: string | null;
  connected_at: Date | null;
  last_heartbeat: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** Offline when disconnected; a drain set by an admin shows only while connected, and outlives reconnects. */
export function statusOf(row: Pick<AgentRow, 'connected' | 'draining'>): AgentStatus {
  if (!row.connected) return 'offline';
  return row.draining ? 'draining' : 'online';
}

const iso = (d: Date | null): string | null => (d === null ? null : new Date(d).toISOString());

export function agentView(row: AgentRow) {
  return {
    id: row.id,
    agent_id: row.agent_id,
    platform: row.platform,
    region: row.region,
    status: statusOf(row),
    capacity: { ...row.capacity, max_sessions: row.capacity.max_sessions ?? 0, current_sessions: row.capacity.current_sessions ?? 0 },
    metadata: row.metadata,
    websocket_conn_id: row.connected ? row.websocket_conn_id : null,
    last_heartbeat: iso(row.last_heartbeat),
    created_at: iso(row.created_at) as string,
    updated_at: iso(row.updated_at) as string,
  };
}

export interface AgentFilter {
  platform?: string;
  status?: AgentStatus;
  region?: string;
}

function filtered(q: Knex.QueryBuilder, filter: AgentFilter): Knex.QueryBuilder {
  if (filter.platform !== undefined) void q.where({ platform: filter.platform });
  if (filter.region !== undefined) void q.where({ region: filter.region });
  if (filter.status === 'offline') void q.where({ connected: false });
  if (filter.status === 'online') void q.where({ connected: true, draining: false });
  if (filter.status === 'draining') void q.where({ connected: true, draining: true });
  return q;
}

/**
 * Agents as the control plane knows them. Every change made on behalf of a connection names
 * that connection (`websocket_conn_id`), so a replaced connection can neither heartbeat nor
 * take the agent offline when it finally closes.
 */
export class AgentStore {
  constructor(private readonly db: Knex) {}

  async get(agentId: string): Promise<AgentRow | undefined> {
    return this.db('streamspace_agents').where({ agent_id: agentId }).first<AgentRow | undefined>();
  }

  /** The connection `connId` now speaks for the agent; returns the connection it replaced, if any. */
  async register(input: {
    agentId: string;
    platform: string;
    region: string | null;
    capacity: Capacity;
    metadata: Record<string, unknown>;
    connId: string;
    replicaId: string;
  }): Promise<{ replaced: string | null }> {
    return this.db.transaction(async (trx) => {
      const before = await trx('streamspace_agents').where({ agent_id: input.agentId }).forUpdate().first<AgentRow | undefined>();
      const fields = {
        platform: input.platform,
        region: input.region,
        capacity: JSON.stringify(input.capacity),
        metadata: JSON.stringify(input.metadata),
        connected: true,
        websocket_conn_id: input.connId,
        replica_id: input.replicaId,
        connected_at: trx.fn.now(),
        last_heartbeat: trx.fn.now(),
        updated_at: trx.fn.now(),
      };
      // An upsert: two replicas registering a new agent at once do not trip the unique index.
      await trx('streamspace_agents')
        .insert({ agent_id: input.agentId, ...fields })
        .onConflict('agent_id')
        .merge(fields);
      return { replaced: before?.connected && before.websocket_conn_id !== input.connId ? before.websocket_conn_id : null };
    });
  }

  /** False when `connId` no longer speaks for the agent (replaced, or taken offline for silence). */
  async heartbeat(agentId: string, connId: string, capacity: Capacity | undefined): Promise<boolean> {
    const patch: Record<string, unknown> = { last_heartbeat: this.db.fn.now(), updated_at: this.db.fn.now() };
    if (capacity) patch.capacity = this.db.raw(`capacity || ?::jsonb`, [JSON.stringify(capacity)]);
    const n = await this.db('streamspace_agents').where({ agent_id: agentId, websocket_conn_id: connId, connected: true }).update(patch);
    return n > 0;
  }

  /** The connection closed: offline, unless another connection already took over. */
  async disconnected(agentId: string, connId: string): Promise<boolean> {
    const n = await this.db('streamspace_agents').where({ agent_id: agentId, websocket_conn_id: connId, connected: true }).update({ connected: false, updated_at: this.db.fn.now() });
    return n > 0;
  }

  /** Agents silent for `silentS` go offline; returns them with the connection that went quiet. */
  async sweepSilent(silentS: number): Promise<Array<{ agent_id: string; websocket_conn_id: string | null }>> {
    return this.db('streamspace_agents')
      .where({ connected: true })
      .where('last_heartbeat', '<', this.db.raw(`now() - make_interval(secs => ?::double precision)`, [silentS]))
      .update({ connected: false, updated_at: this.db.fn.now() })
      .returning(['agent_id', 'websocket_conn_id']);
  }

  async setDraining(agentId: string, draining: boolean): Promise<AgentRow | undefined> {
    const [row] = await this.db('streamspace_agents').where({ agent_id: agentId }).update({ draining, updated_at: this.db.fn.now() }).returning<AgentRow[]>('*');
    return row;
  }

  async markOffline(agentId: string): Promise<void> {
    await this.db('streamspace_agents').where({ agent_id: agentId }).update({ connected: false, updated_at: this.db.fn.now() });
  }

  async list(filter: AgentFilter, page: number, limit: number): Promise<{ rows: AgentRow[]; total: number }> {
    const base = filtered(this.db('streamspace_agents'), filter);
    const [rows, count] = await Promise.all([
      base
        .clone()
        .orderBy('agent_id')
        .limit(limit)
        .offset((page - 1) * limit)
        .select<AgentRow[]>('*'),
      base.clone().count<Array<{ n: string | number }>>('* as n'),
    ]);
    return { rows, total: Number(count[0]?.n ?? 0) };
  }

  async all(): Promise<AgentRow[]> {
    return this.db('streamspace_agents').select<AgentRow[]>('*');
  }
}
