import type { Knex } from 'knex';
import type { CoreModule } from '../boot/core-module.ts';
import { AuditLog } from './audit-log.ts';
import { auditRoutes } from './audit-routes.ts';

export interface AuditModule extends CoreModule {
  audit: AuditLog;
}

/** The append-only audit log and its admin route. */
export function createAuditModule(db: Knex): AuditModule {
  const audit = new AuditLog(db);
  return { name: 'audit', audit, routes: auditRoutes(audit) };
}
