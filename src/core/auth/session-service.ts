import type { Knex } from 'knex';
import { ForbiddenError, UnauthorizedError } from '../http/errors.ts';
import type { Principal } from '../http/principal.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AccessTokens } from './access-tokens.ts';
import type { PasswordHasher } from './password-hasher.ts';
import { disabledReason, reusedReason, type RefreshTokens, type IssuedRefresh } from './refresh-tokens.ts';
import { toUser, type UserRow, type UserStore } from './user-store.ts';
import type { User } from './user-schemas.ts';

export interface SessionTokens {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
  refresh_expires_at: string;
  user: User;
}

/** Where a request came from, for the audit log. */
export interface RequestOrigin {
  ip: string;
  requestId: string;
}

/**
 * Announces ended sessions in the ending transaction: `familyIds` null means every session
 * of the user (disable, password reset), else just those refresh families (logout).
 */
export type SessionsEnded = (userId: string, ended: { reason: string; familyIds: string[] | null }, trx: Knex.Transaction) => Promise<void>;

/** One message for a wrong password and an unknown account, so the answer reveals nothing. */
const badCredentials = (): UnauthorizedError => new UnauthorizedError('AUTH_INVALID_CREDENTIALS', 'The login or password is wrong');

/** Sign-in, refresh rotation and sign-out. */
export class SessionService {
  constructor(
    private readonly db: Knex,
    private readonly users: UserStore,
    private readonly hasher: PasswordHasher,
    private readonly access: AccessTokens,
    private readonly refresh: RefreshTokens,
    private readonly audit: AuditLog,
    /** Told in the same transaction when sessions end, so long-lived sockets and IDE sessions close at once. */
    private readonly onSessionsEnded: SessionsEnded = async () => undefined,
  ) {}

  private async tokensFor(user: UserRow, refresh: IssuedRefresh): Promise<SessionTokens> {
    const issued = await this.access.issue(user.id, user.role, refresh.familyId);
    return {
      access_token: issued.token,
      token_type: 'Bearer',
      expires_in: issued.expiresIn,
      refresh_token: refresh.token,
      refresh_expires_at: refresh.expiresAt.toISOString(),
      user: toUser(user),
    };
  }

  async login(login: string, password: string, origin: RequestOrigin): Promise<SessionTokens> {
    const session = await this.signIn(login, password, origin);
    return this.tokensFor(session.row, session.refresh);
  }

  /**
   * Sign-in for another audience (a plugin's own API): one access token signed by `access`,
   * no refresh token. Its family is started all the same, so logout, password reset and
   * disable end it exactly like a portal session.
   */
  async loginFor(access: AccessTokens, login: string, password: string, origin: RequestOrigin): Promise<{ token: string; expiresAt: Date; user: UserRow }> {
    const session = await this.signIn(login, password, origin);
    const issued = await access.issue(session.row.id, session.row.role, session.refresh.familyId);
    return { token: issued.token, expiresAt: issued.claims.expiresAt, user: session.row };
  }

  private async signIn(login: string, password: string, origin: RequestOrigin): Promise<{ row: UserRow; refresh: IssuedRefresh }> {
    const user = await this.users.byLogin(login);
    if (!user) {
      await this.hasher.verifyDummy(password);
      await this.audit.record({ action: 'auth.login_failed', ip: origin.ip, requestId: origin.requestId, details: { reason: 'unknown_login' } });
      throw badCredentials();
    }
    if (!(await this.hasher.verify(user.password_hash, password))) {
      await this.audit.record({ action: 'auth.login_failed', targetUserId: user.id, ip: origin.ip, requestId: origin.requestId, details: { reason: 'wrong_password' } });
      throw badCredentials();
    }
    // Only after the password is right, so "disabled" does not reveal that an account exists.
    if (user.disabled) throw new ForbiddenError('AUTH_USER_DISABLED', 'This account is disabled; contact support');
    const rehash = this.hasher.needsRehash(user.password_hash) ? await this.hasher.hash(password) : null;
    const session = await this.db.transaction(async (trx) => {
      // Only if the row still holds the hash we verified and is still enabled: a password reset
      // or a disable that committed while we were hashing wins, and no session slips past it.
      const updated = await trx.raw<{ rows: UserRow[] }>(
        `UPDATE users SET last_login_at = now(), password_hash = COALESCE(?, password_hash), updated_at = now()
          WHERE id = ? AND password_hash = ? AND NOT disabled RETURNING *`,
        [rehash, user.id, user.password_hash],
      );
      const row = updated.rows[0];
      if (!row) return null;
      const started = await this.refresh.startFamily(user.id, trx);
      await this.audit.record({ action: 'auth.login', actorUserId: user.id, targetUserId: user.id, ip: origin.ip, requestId: origin.requestId, details: { rehashed: rehash !== null } }, trx);
      return { row, refresh: started };
    });
    if (!session) throw badCredentials();
    return session;
  }

  familyOf(refreshToken: string): Promise<string | null> {
    return this.refresh.familyOf(refreshToken);
  }

  async rotate(refreshToken: string, origin: RequestOrigin): Promise<SessionTokens> {
    const result = await this.refresh.rotate(refreshToken);
    if (result.kind === 'invalid') {
      if (result.revokedReason === disabledReason) throw new ForbiddenError('AUTH_USER_DISABLED', 'This account is disabled; contact support');
      if (result.revokedReason === reusedReason) throw new UnauthorizedError('AUTH_REFRESH_REUSED', 'This session was ended because its refresh token was used twice. Sign in again');
      throw new UnauthorizedError('AUTH_REFRESH_INVALID', result.reason === 'expired' ? 'The refresh token has expired; sign in again' : 'The refresh token is not valid; sign in again');
    }
    if (result.kind === 'reused') {
      await this.audit.record({ action: 'auth.refresh_reused', targetUserId: result.userId, ip: origin.ip, requestId: origin.requestId, details: { family_id: result.familyId } });
      throw new UnauthorizedError('AUTH_REFRESH_REUSED', 'This refresh token was already used; every session it belonged to has been ended. Sign in again');
    }
    const user = await this.users.byId(result.userId);
    if (!user) throw new UnauthorizedError('AUTH_REFRESH_INVALID', 'This account no longer exists');
    if (user.disabled) {
      await this.refresh.revokeFamily(result.familyId, disabledReason);
      throw new ForbiddenError('AUTH_USER_DISABLED', 'This account is disabled; contact support');
    }
    return this.tokensFor(user, result);
  }

  /**
   * Ends the presented access token and its refresh family (and the family of a refresh
   * token sent along). Runs in one transaction: if it cannot be stored, the caller gets an
   * error, never a 204 for a logout that did not happen.
   */
  async logout(principal: Principal, refreshToken: string | undefined, origin: RequestOrigin): Promise<void> {
    const otherFamily = refreshToken ? await this.refresh.familyOf(refreshToken) : null;
    await this.db.transaction(async (trx) => {
      await trx('revoked_access_tokens').insert({ jti: principal.tokenId, user_id: principal.userId, expires_at: principal.expiresAt }).onConflict('jti').ignore();
      await this.refresh.revokeFamily(principal.familyId, 'logout', trx);
      if (otherFamily && otherFamily !== principal.familyId) {
        // Only the caller's own families: a stolen token of someone else must not be a kill switch.
        const owned: unknown = await trx('refresh_families').where({ id: otherFamily, user_id: principal.userId }).first('id');
        if (owned) await this.refresh.revokeFamily(otherFamily, 'logout', trx);
      }
      await this.onSessionsEnded(principal.userId, { reason: 'logout', familyIds: [principal.familyId, ...(otherFamily && otherFamily !== principal.familyId ? [otherFamily] : [])] }, trx);
      await this.audit.record({ action: 'auth.logout', actorUserId: principal.userId, targetUserId: principal.userId, ip: origin.ip, requestId: origin.requestId }, trx);
    });
  }

  /** Ends every session of a user at once (disable, password reset by an admin). */
  async endAllSessions(userId: string, reason: string, trx: Knex.Transaction): Promise<void> {
    await this.users.update(userId, { sessions_valid_after: trx.raw('now()') }, trx);
    await this.refresh.revokeAllForUser(userId, reason, trx);
    await this.onSessionsEnded(userId, { reason, familyIds: null }, trx);
  }

  async pruneDenylist(): Promise<number> {
    return this.db('revoked_access_tokens').where('expires_at', '<', this.db.fn.now()).delete();
  }
}
