import type { AuditEntry } from '../core/audit/audit-log.ts';

/** The audit log: who did what to whose resource. Append-only. */
export interface Audit {
  record(entry: AuditEntry): Promise<void>;
}
