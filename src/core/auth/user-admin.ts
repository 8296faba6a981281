import type { Knex } from 'knex';
import { ConflictError, NotFoundError } from '../http/errors.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RequestOrigin, SessionService } from './session-service.ts';
import type { PasswordHasher } from './password-hasher.ts';
import type { Role } from './user-schemas.ts';
import type { UserRow, UserStore } from './user-store.ts';
import { disabledReason } from './refresh-tokens.ts';

export interface UserPatch {
  role?: Role;
  disabled?: boolean;
  email?: string;
}

export interface Actor extends RequestOrigin {
  userId: string | null;
}

const lastAdmin = (): ConflictError => new ConflictError('LAST_ADMIN', 'This is the last active admin; make another user an admin first');

/** Creating, changing and deleting accounts, with the guard that one active admin always remains. */
export class UserAdmin {
  constructor(
    private readonly db: Knex,
    private readonly users: UserStore,
    private readonly hasher: PasswordHasher,
    private readonly sessions: SessionService,
    private readonly audit: AuditLog,
  ) {}

  async create(input: { username: string; email: string; password: string; role: Role }, actor: Actor, action = 'admin.user_created'): Promise<UserRow> {
    const passwordHash = await this.hasher.hash(input.password);
    return this.db.transaction(async (trx) => {
      const row = await this.users.create({ username: input.username, email: input.email, passwordHash, role: input.role }, trx);
      await this.audit.record({ action, actorUserId: actor.userId ?? row.id, targetUserId: row.id, ip: actor.ip, requestId: actor.requestId, details: { role: row.role } }, trx);
      return row;
    });
  }

  async patch(id: string, patch: UserPatch, actor: Actor): Promise<UserRow> {
    return this.db.transaction(async (trx) => {
      const admins = await this.users.lockActiveAdmins(trx);
      const current = await this.users.byId(id, trx);
      if (!current) throw new NotFoundError('user', id);
      const losesAdmin = current.role === 'admin' && !current.disabled && (patch.role === 'user' || patch.disabled === true);
      if (losesAdmin && admins.length <= 1) throw lastAdmin();
      const updated = await this.users.update(id, patch, trx);
      if (!updated) throw new NotFoundError('user', id);
      if (patch.disabled === true && !current.disabled) await this.sessions.endAllSessions(id, disabledReason, trx);
      await this.audit.record({ action: 'admin.user_updated', actorUserId: actor.userId, targetUserId: id, ip: actor.ip, requestId: actor.requestId, details: { ...patch } }, trx);
      return updated;
    });
  }

  async remove(id: string, actor: Actor): Promise<void> {
    await this.db.transaction(async (trx) => {
      const admins = await this.users.lockActiveAdmins(trx);
      const current = await this.users.byId(id, trx);
      if (!current) throw new NotFoundError('user', id);
      if (admins.length <= 1 && admins.includes(id)) throw lastAdmin();
      // Instances are not deleted with their owner (their agents would be orphaned): say so, and what to do.
      const owned = Number((await trx('instances').where({ owner_id: id }).count<Array<{ n: string | number }>>('* as n'))[0]?.n ?? 0);
      if (owned > 0) {
        throw new ConflictError('USER_HAS_INSTANCES', `${current.username} still owns ${owned} instance(s); delete them first (DELETE /api/admin/instances/:id), then the user`, { instances: owned });
      }
      await trx('users').where({ id }).delete();
      await this.audit.record({ action: 'admin.user_deleted', actorUserId: actor.userId, targetUserId: id, ip: actor.ip, requestId: actor.requestId, details: { username: current.username } }, trx);
    });
  }
}
