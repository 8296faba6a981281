import type { Knex } from 'knex';
import { ForbiddenError, UnauthorizedError } from '../http/errors.ts';
import type { Authenticator, Principal } from '../http/principal.ts';
import type { AccessTokens } from './access-tokens.ts';
import type { Role } from './user-schemas.ts';

interface SessionRow {
  role: Role;
  disabled: boolean;
  sessions_valid_after: Date;
  token_revoked: boolean;
  family_revoked: boolean;
}

/** Pulls the bearer token out of an Authorization header value. */
export function bearerToken(header: string | undefined): string {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!match?.[1]) throw new UnauthorizedError('AUTH_TOKEN_MISSING', 'Send an access token as "Authorization: Bearer <token>"');
  return match[1];
}

/**
 * Verifies the JWT, then checks the database on every request so that a logout, a password
 * reset, a disabled or deleted account, or a revoked family ends the token at once. One
 * indexed query; the role comes from the row, so a demotion also applies at once.
 */
/** A principal for a user who proved themselves another way (a ticket): must still exist and be enabled. */
export async function principalForUser(db: Knex, userId: string, via: string): Promise<Principal> {
  const row = await db('users').where({ id: userId }).first<{ role: Role; disabled: boolean } | undefined>('role', 'disabled');
  if (!row) throw new UnauthorizedError('AUTH_TOKEN_INVALID', 'This account no longer exists');
  if (row.disabled) throw new ForbiddenError('AUTH_USER_DISABLED', 'This account is disabled; contact support');
  return { userId, role: row.role, tokenId: via, familyId: '', expiresAt: new Date(Date.now() + 60_000) };
}

/**
 * Whether a principal authenticated earlier still holds: for long-lived connections (event
 * streams) that must end on logout, reset, disable, deletion or a change of role.
 */
export async function sessionStillValid(db: Knex, principal: Principal): Promise<boolean> {
  const user = await db('users').where({ id: principal.userId }).first<{ role: Role; disabled: boolean } | undefined>('role', 'disabled');
  if (!user || user.disabled || user.role !== principal.role) return false;
  if (principal.tokenId.startsWith('ticket:')) return true;
  const revoked: unknown = await db('revoked_access_tokens').where({ jti: principal.tokenId }).first('jti');
  const family: unknown = await db('refresh_families').where({ id: principal.familyId, user_id: principal.userId }).whereNull('revoked_at').first('id');
  return !revoked && family !== undefined;
}

export function createAuthenticator(tokens: AccessTokens, db: Knex): Authenticator & { verifyToken: (token: string) => Promise<Principal> } {
  const verifyToken = async (token: string): Promise<Principal> => {
    const claims = await tokens.verify(token);
    const result = await db.raw<{ rows: SessionRow[] }>(
      `SELECT u.role, u.disabled, u.sessions_valid_after,
              EXISTS (SELECT 1 FROM revoked_access_tokens r WHERE r.jti = ?) AS token_revoked,
              NOT EXISTS (SELECT 1 FROM refresh_families f WHERE f.id = ? AND f.user_id = u.id AND f.revoked_at IS NULL) AS family_revoked
         FROM users u WHERE u.id = ?`,
      [claims.tokenId, claims.familyId, claims.userId],
    );
    const row = result.rows[0];
    if (!row) throw new UnauthorizedError('AUTH_TOKEN_INVALID', 'This account no longer exists');
    if (row.disabled) throw new ForbiddenError('AUTH_USER_DISABLED', 'This account is disabled; contact support');
    // iat has whole seconds, so a token minted in the same second as the cut still passes here;
    // such a token belongs to a family the cut revoked, and the family check refuses it.
    const validAfterS = Math.floor(new Date(row.sessions_valid_after).getTime() / 1000);
    if (row.token_revoked || row.family_revoked || claims.issuedAt.getTime() / 1000 < validAfterS) {
      throw new UnauthorizedError('AUTH_TOKEN_REVOKED', 'This session has ended; sign in again');
    }
    return { userId: claims.userId, role: row.role, tokenId: claims.tokenId, familyId: claims.familyId, expiresAt: claims.expiresAt };
  };
  return Object.assign((headers: { authorization?: string }) => verifyToken(bearerToken(headers.authorization)), { verifyToken });
}
