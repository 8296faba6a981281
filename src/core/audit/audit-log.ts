import type { Knex } from 'knex';
import { fetchPage } from '../http/pagination.ts';

export interface AuditEntry {
  action: string;
  actorUserId?: string | null;
  targetUserId?: string | null;
  ip?: string | null;
  requestId?: string | null;
  details?: Record<string, unknown>;
}

export interface AuditRow {
  id: string | number;
  at: Date;
  action: string;
  actor_user_id: string | null;
  target_user_id: string | null;
  ip: string | null;
  request_id: string | null;
  details: Record<string, unknown>;
}

export interface AuditFilter {
  action?: string;
  actorUserId?: string;
  targetUserId?: string;
  since?: Date;
  until?: Date;
}

/** Security-relevant events (logins, logouts, refresh reuse, resets, admin changes), append-only. */
export class AuditLog {
  constructor(private readonly db: Knex) {}

  async record(entry: AuditEntry, trx: Knex = this.db): Promise<void> {
    await trx('audit_log').insert({
      action: entry.action,
      actor_user_id: entry.actorUserId ?? null,
      target_user_id: entry.targetUserId ?? null,
      ip: entry.ip ?? null,
      request_id: entry.requestId ?? null,
      details: JSON.stringify(entry.details ?? {}),
    });
  }

  async list(filter: AuditFilter, page: number, limit: number): Promise<{ rows: AuditRow[]; total: number }> {
    const base = this.db('audit_log').modify((q) => {
      if (filter.action) void q.where('action', filter.action);
      if (filter.actorUserId) void q.where('actor_user_id', filter.actorUserId);
      if (filter.targetUserId) void q.where('target_user_id', filter.targetUserId);
      if (filter.since) void q.where('at', '>=', filter.since);
      if (filter.until) void q.where('at', '<', filter.until);
    });
    return fetchPage<AuditRow>(base, page, limit, (q) => q.orderBy('id', 'desc').select('*'));
  }
}
