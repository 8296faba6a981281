import type { Knex } from 'knex';
import type { Config } from '../../config/schema.ts';
import type { Logger } from '../log/logger.ts';
import type { AppSecrets } from '../db/secrets.ts';
import type { CoreModule } from '../boot/core-module.ts';
import type { Authenticator, Principal } from '../http/principal.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { MailOutbox } from '../mail/mail-outbox.ts';
import { AccessTokens } from './access-tokens.ts';
import { createAuthenticator, principalForUser, sessionStillValid } from './authenticator.ts';
import { Tickets } from './tickets.ts';
import { UnauthorizedError } from '../http/errors.ts';
import type { TicketRedeemer } from '../http/principal.ts';
import { PasswordHasher } from './password-hasher.ts';
import { PasswordReset } from './password-reset.ts';
import { RefreshTokens } from './refresh-tokens.ts';
import { SessionService, type SessionsEnded } from './session-service.ts';
import { UserAdmin } from './user-admin.ts';
import { UserStore } from './user-store.ts';
import { authRoutes } from './auth-routes.ts';
import { adminUserRoutes } from './admin-user-routes.ts';
import { announceAdmin, ensureAdmin } from './bootstrap-admin.ts';
import type { EventBus } from '../events/event-bus.ts';
import { userSessionsEnded } from '../events/core-events.ts';
import { accounts, audienceSessions, type Accounts, type AudienceSessions } from './audience-sessions.ts';
import { dispatchMailJob } from './jobs/dispatch-mail.ts';
import { pruneAuthJob } from './jobs/prune-auth.ts';

export interface AuthModule extends CoreModule {
  authenticate: Authenticator;
  verifyAccessToken: (token: string) => Promise<Principal>;
  tickets: Tickets;
  redeemTicket: TicketRedeemer;
  stillValid: (principal: Principal) => Promise<boolean>;
  /** Tokens for a plugin's own API audience (same users, same revocation). */
  audience: (name: string, ttlS: number) => AudienceSessions;
  accounts: Accounts;
  users: UserStore;
  audit: AuditLog;
  outbox: MailOutbox;
  reset: PasswordReset;
  hasher: PasswordHasher;
  userAdmin: UserAdmin;
  /** Handles queued reset requests and mail now, after any pass already running (tests, scripts). */
  settleMail(): Promise<void>;
  /** Creates the first admin on an empty database (printing a generated password once). */
  start(): Promise<void>;
  /** Lets an in-flight mail pass finish (the mail module closes the SMTP pool after). */
  stop(): Promise<void>;
}

export interface AuthModuleOptions {
  db: Knex;
  config: Readonly<Config>;
  secrets: AppSecrets;
  log: Logger;
  bus: EventBus;
  audit: AuditLog;
  outbox: MailOutbox;
  /** Where the one-time first-admin password is printed at start. */
  write: (text: string) => void;
}

/** Users, sign-in sessions, tickets and password reset: built once, handed to the app and the jobs. */
export function createAuthModule(options: AuthModuleOptions): AuthModule {
  const { db, config, secrets, log, bus, audit, outbox } = options;
  const users = new UserStore(db);
  const hasher = new PasswordHasher({
    memoryKib: config.auth.argon2_memory_kib,
    timeCost: config.auth.argon2_time_cost,
    parallelism: config.auth.argon2_parallelism,
    concurrency: config.auth.hash_concurrency,
    queueMax: config.auth.hash_queue_max,
  });
  const access = new AccessTokens(secrets.jwtSecret, config.auth.issuer, config.auth.audience, config.auth.access_token_ttl_s);
  const refresh = new RefreshTokens(db, `refresh-child:${secrets.jwtSecret}`, config.auth.refresh_token_ttl_s, config.auth.refresh_grace_s);
  // `user.sessions_ended` reaches every replica, which closes that user's sockets and IDE sessions.
  const sessionsEnded: SessionsEnded = async (userId, ended, trx) => {
    await bus.publish(userSessionsEnded, userId, { user_id: userId, reason: ended.reason, family_ids: ended.familyIds }, trx);
  };
  const reset = new PasswordReset(
    db,
    { tokenTtlS: config.auth.reset_token_ttl_s, resetUrl: config.auth.reset_url ?? `${config.server.public_url.replace(/\/$/, '')}/reset-password` },
    outbox,
    refresh,
    audit,
    sessionsEnded,
  );
  const sessions = new SessionService(db, users, hasher, access, refresh, audit, sessionsEnded);
  const userAdmin = new UserAdmin(db, users, hasher, sessions, audit);
  const authenticator = createAuthenticator(access, db);
  const tickets = new Tickets(db);
  const redeemTicket: TicketRedeemer = async (ticket, purpose, resourceId) => {
    const userId = await tickets.consume(ticket, purpose, resourceId);
    if (userId === null) throw new UnauthorizedError('TICKET_INVALID', 'This ticket is invalid, used or expired; get a new one');
    return principalForUser(db, userId, `ticket:${purpose}`);
  };

  // Reset requests are handled by the mail job, never right after the request (see dispatch-mail.ts).
  let running: Promise<void> | null = null;
  const processMail = (signal?: AbortSignal): Promise<void> => {
    running ??= (async () => {
      await reset.processPending();
      await outbox.deliverPending(signal);
    })().finally(() => {
      running = null;
    });
    return running;
  };

  return {
    name: 'auth',
    authenticate: authenticator,
    verifyAccessToken: authenticator.verifyToken,
    tickets,
    redeemTicket,
    stillValid: (principal) => sessionStillValid(db, principal),
    audience: (name, ttlS) => audienceSessions(db, sessions, secrets.jwtSecret, config.auth.issuer, name, ttlS),
    accounts: accounts(db, users, userAdmin),
    routes: [...authRoutes({ registrationEnabled: config.auth.registration_enabled, sessions, userAdmin, users, reset, hasher, audit }), ...adminUserRoutes(users, userAdmin)],
    jobs: [dispatchMailJob(processMail), pruneAuthJob({ refresh, sessions, reset, tickets })],
    users,
    audit,
    outbox,
    reset,
    hasher,
    userAdmin,
    settleMail: async () => {
      await running?.catch(() => undefined);
      await processMail();
    },
    start: async () => {
      const created = await ensureAdmin(db, users, hasher, config.bootstrap);
      if (created) announceAdmin(created, log, options.write, config.server.public_url);
    },
    stop: async () => {
      await running?.catch(() => undefined);
    },
  };
}
