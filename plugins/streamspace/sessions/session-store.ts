import type { Knex } from 'knex';
import { phaseOf, type SessionState } from './session-machine.ts';

export interface SessionStatus {
  message: string;
  pod_ip?: string | null;
  pod_name?: string | null;
  container_id?: string | null;
  started_at?: string | null;
  vnc_port?: number | null;
  error_code?: string | null;
}

export interface SessionRow {
  id: string;
  name: string;
  namespace: string;
  user_id: string;
  template: string;
  platform: string;
  region: string | null;
  agent_id: string;
  state: SessionState;
  resources: Record<string, string>;
  persistent_home: boolean;
  idle_timeout: string;
  idle_timeout_s: number;
  tags: string[];
  status: SessionStatus;
  platform_metadata: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
  last_activity: Date;
  /** Joined: the owner's username and whether the agent is connected. */
  username: string;
  agent_connected: boolean | null;
  /** The replica holding the agent's socket (null when unknown). */
  agent_replica_id: string | null;
}

export interface SessionFilter {
  /** Non-admins: always themselves. */
  userId?: string;
  username?: string;
  template?: string;
  platform?: string;
  agentId?: string;
  state?: SessionState;
  tags?: string[];
}

export const sortColumns = { created_at: 's.created_at', updated_at: 's.updated_at', user: 'u.username', state: 's.state' } as const;

const iso = (d: Date): string => new Date(d).toISOString();

/** The seed's session object. `status.phase` is `Unknown` while the agent is offline (addendum). */
export function sessionView(row: SessionRow) {
  const settled = row.state === 'terminated' || row.state === 'failed';
  const phase = row.agent_connected || settled ? phaseOf[row.state] : 'Unknown';
  return {
    id: row.id,
    name: row.name,
    namespace: row.namespace,
    user: row.username,
    template: row.template,
    platform: row.platform,
    region: row.region,
    agent_id: row.agent_id,
    state: row.state,
    resources: row.resources,
    persistent_home: row.persistent_home,
    idle_timeout: row.idle_timeout,
    tags: row.tags,
    status: {
      phase,
      message: phase === 'Unknown' ? `The agent is offline; last known state: ${row.state}` : row.status.message,
      pod_ip: row.state === 'running' ? (row.status.pod_ip ?? null) : null,
      pod_name: row.status.pod_name ?? null,
      vnc_url: row.state === 'running' ? `/vnc-viewer/${row.id}` : null,
      container_id: row.status.container_id ?? null,
      started_at: row.status.started_at ?? null,
      error_code: row.status.error_code ?? null,
    },
    platform_metadata: row.platform_metadata,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
    last_activity: iso(row.last_activity),
  };
}
export type SessionView = ReturnType<typeof sessionView>;

/** Sessions with their owner's name and their agent's connection, as every read needs them. */
export class SessionStore {
  constructor(private readonly db: Knex) {}

  private base(db: Knex = this.db): Knex.QueryBuilder {
    return db('streamspace_sessions as s')
      .join('users as u', 'u.id', 's.user_id')
      .leftJoin('streamspace_agents as a', 'a.agent_id', 's.agent_id')
      .select('s.*', 'u.username', 'a.connected as agent_connected', 'a.replica_id as agent_replica_id');
  }

  async get(id: string, db: Knex = this.db): Promise<SessionRow | undefined> {
    return this.base(db).where('s.id', id).first<SessionRow | undefined>();
  }

  async list(filter: SessionFilter, sort: keyof typeof sortColumns, order: 'asc' | 'desc', page: number, limit: number): Promise<{ rows: SessionRow[]; total: number }> {
    const q = this.base().modify((b: Knex.QueryBuilder) => {
      if (filter.userId !== undefined) void b.where('s.user_id', filter.userId);
      if (filter.username !== undefined) void b.whereRaw('lower(u.username) = ?', [filter.username.toLowerCase()]);
      if (filter.template !== undefined) void b.where('s.template', filter.template);
      if (filter.platform !== undefined) void b.where('s.platform', filter.platform);
      if (filter.agentId !== undefined) void b.where('s.agent_id', filter.agentId);
      // Terminated sessions are history: listed only when asked for (addendum).
      if (filter.state !== undefined) void b.where('s.state', filter.state);
      else void b.whereNot('s.state', 'terminated');
      if (filter.tags && filter.tags.length > 0) void b.whereRaw('s.tags @> ?::jsonb', [JSON.stringify(filter.tags)]);
    });
    // The rows come back untyped (any); `unknown` until they are cast to the row type below.
    const [rows, count] = (await Promise.all([
      q
        .clone()
        .orderBy(sortColumns[sort], order)
        .orderBy('s.id', order)
        .limit(limit)
        .offset((page - 1) * limit),
      q.clone().clearSelect().clearOrder().count<Array<{ n: string | number }>>('* as n'),
    ])) as [unknown, Array<{ n: string | number }>];
    return { rows: rows as SessionRow[], total: Number(count[0]?.n ?? 0) };
  }

  /** Compare-and-set on the state, so two changes never both win. */
  async move(db: Knex, id: string, from: readonly SessionState[], to: SessionState, status: Partial<SessionStatus>): Promise<boolean> {
    const n = await db('streamspace_sessions')
      .where({ id })
      .whereIn('state', from)
      .update({ state: to, status: db.raw('status || ?::jsonb', [JSON.stringify(status)]), updated_at: db.fn.now(), ...(to === 'running' ? { last_activity: db.fn.now() } : {}) });
    return n > 0;
  }

  async touch(id: string): Promise<void> {
    await this.db('streamspace_sessions').where({ id }).update({ last_activity: this.db.fn.now() });
  }

  async onAgent(agentId: string): Promise<Array<{ id: string; name: string; user: string; template: string; state: SessionState }>> {
    return this.db('streamspace_sessions as s')
      .join('users as u', 'u.id', 's.user_id')
      .where('s.agent_id', agentId)
      .whereNot('s.state', 'terminated')
      .orderBy('s.created_at')
      .select('s.id', 's.name', 'u.username as user', 's.template', 's.state');
  }
}
