import type { Knex } from 'knex';
import type { Principal } from '../http/principal.ts';
import type { Role } from './user-schemas.ts';
import type { UserRow, UserStore } from './user-store.ts';
import type { RequestOrigin, SessionService } from './session-service.ts';
import type { UserAdmin } from './user-admin.ts';
import { AccessTokens } from './access-tokens.ts';
import { createAuthenticator } from './authenticator.ts';

/** A user as plugins see one: never the password hash. */
export interface AccountView {
  id: string;
  username: string;
  email: string;
  role: Role;
  disabled: boolean;
  createdAt: Date;
  lastLoginAt: Date | null;
}

export function accountView(row: UserRow): AccountView {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    role: row.role,
    disabled: row.disabled,
    createdAt: new Date(row.created_at),
    lastLoginAt: row.last_login_at === null ? null : new Date(row.last_login_at),
  };
}

/**
 * Sign-in for a plugin's own API audience (StreamSpace's `/api/v1`): the core's users,
 * passwords and revocation, with tokens only that audience accepts. A portal token is
 * refused there and such a token is refused by the portal.
 */
export interface AudienceSessions {
  /** Throws 401 AUTH_INVALID_CREDENTIALS or 403 AUTH_USER_DISABLED. */
  login(login: string, password: string, origin: RequestOrigin): Promise<{ token: string; expiresAt: Date; user: AccountView }>;
  /** Throws 401 AUTH_TOKEN_EXPIRED / AUTH_TOKEN_INVALID / AUTH_TOKEN_REVOKED or 403 AUTH_USER_DISABLED. Checks the database every time. */
  verify(token: string): Promise<Principal>;
  /** Ends this token server-side (and its sign-in); throws if that cannot be stored. */
  logout(principal: Principal, origin: RequestOrigin): Promise<void>;
}

/** The core's accounts, for plugins with user administration of their own (StreamSpace `/api/v1/users`). */
export interface Accounts {
  list(page: number, limit: number, role?: Role): Promise<{ users: AccountView[]; total: number }>;
  byId(id: string): Promise<AccountView | null>;
  byUsername(username: string): Promise<AccountView | null>;
  /** Throws 409 USER_EXISTS when the username or email is taken. */
  create(input: { username: string; email: string; password: string; role: Role }, actor: RequestOrigin & { userId: string }): Promise<AccountView>;
}

export function audienceSessions(db: Knex, sessions: SessionService, secret: string, issuer: string, audience: string, ttlS: number): AudienceSessions {
  const access = new AccessTokens(secret, issuer, audience, ttlS);
  const authenticator = createAuthenticator(access, db);
  return {
    login: async (login, password, origin) => {
      const session = await sessions.loginFor(access, login, password, origin);
      return { token: session.token, expiresAt: session.expiresAt, user: accountView(session.user) };
    },
    verify: (token) => authenticator.verifyToken(token),
    logout: (principal, origin) => sessions.logout(principal, undefined, origin),
  };
}

export function accounts(db: Knex, users: UserStore, userAdmin: UserAdmin): Accounts {
  return {
    list: async (page, limit, role) => {
      const { rows, total } = await users.list(page, limit, role);
      return { users: rows.map(accountView), total };
    },
    byId: async (id) => {
      const row = await users.byId(id);
      return row ? accountView(row) : null;
    },
    byUsername: async (username) => {
      const row = await db('users').whereRaw('lower(username) = ?', [username.toLowerCase()]).first<UserRow | undefined>();
      return row ? accountView(row) : null;
    },
    create: async (input, actor) => accountView(await userAdmin.create(input, actor)),
  };
}
