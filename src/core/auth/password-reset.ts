import type { Knex } from 'knex';
import { hashToken, newOpaqueToken } from '../crypto/opaque-token.ts';
import type { MailOutbox } from '../mail/mail-outbox.ts';
import type { SessionsEnded } from './session-service.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RefreshTokens } from './refresh-tokens.ts';

interface RequestRow {
  id: string | number;
  email: string;
  ip: string | null;
  request_id: string | null;
}

export interface ResetSettings {
  tokenTtlS: number;
  /** The portal page that takes the token; the link is this URL with `?token=`. */
  resetUrl: string;
}

/**
 * Password reset in two halves. The request route only records the request, the same single
 * insert for every email, so its answer and timing say nothing about which accounts exist;
 * `processPending` then looks the email up, stores a hashed single-use token and queues the mail.
 */
export class PasswordReset {
  constructor(
    private readonly db: Knex,
    private readonly settings: ResetSettings,
    private readonly outbox: MailOutbox,
    private readonly refresh: RefreshTokens,
    private readonly audit: AuditLog,
    private readonly onSessionsEnded: SessionsEnded = async () => undefined,
  ) {}

  async request(email: string, ip: string, requestId: string): Promise<void> {
    await this.db('password_reset_requests').insert({ email: email.toLowerCase(), ip, request_id: requestId });
  }

  /** Handles waiting requests; replicas share the work (SKIP LOCKED). Returns how many were handled. */
  async processPending(): Promise<number> {
    let handled = 0;
    for (;;) {
      const batch = await this.db.transaction(async (trx) => {
        const rows = await trx('password_reset_requests').whereNull('processed_at').orderBy('id').limit(20).forUpdate().skipLocked().select<RequestRow[]>('id', 'email', 'ip', 'request_id');
        for (const row of rows) await this.handle(row, trx);
        if (rows.length > 0)
          await trx('password_reset_requests')
            .whereIn(
              'id',
              rows.map((r) => r.id),
            )
            .update({ processed_at: trx.fn.now() });
        return rows.length;
      });
      handled += batch;
      if (batch === 0) return handled;
    }
  }

  private async handle(request: RequestRow, trx: Knex): Promise<void> {
    const user = await trx('users')
      .whereRaw('lower(email) = ?', [request.email])
      .first<{ id: string; email: string; username: string; disabled: boolean } | undefined>('id', 'email', 'username', 'disabled');
    if (!user || user.disabled) return;
    const token = newOpaqueToken();
    await trx('password_reset_tokens').insert({ token_hash: hashToken(token), user_id: user.id, expires_at: new Date(Date.now() + this.settings.tokenTtlS * 1000) });
    const url = new URL(this.settings.resetUrl);
    url.searchParams.set('token', token);
    const link = url.toString();
    const minutes = Math.round(this.settings.tokenTtlS / 60);
    await this.outbox.enqueue(
      {
        to: user.email,
        subject: 'Reset your password',
        text: `Hello ${user.username},\n\nSomeone asked to reset the password of your account. If it was you, open this link within ${minutes} minutes:\n\n${link}\n\nIt works once. If it was not you, ignore this mail; your password stays as it is.\n`,
      },
      trx,
    );
    await this.audit.record({ action: 'auth.password_reset_requested', targetUserId: user.id, ip: request.ip, requestId: request.request_id }, trx);
  }

  /** Cheap check before hashing a new password, so junk tokens cost us no argon2 work. */
  async isUsable(token: string): Promise<boolean> {
    const row: unknown = await this.db('password_reset_tokens')
      .where({ token_hash: hashToken(token) })
      .whereNull('used_at')
      .where('expires_at', '>', this.db.fn.now())
      .first('user_id');
    return row !== undefined;
  }

  /**
   * Spends the token and sets the password in one statement, which only matches an unused,
   * unexpired token; then ends every session of the user. Returns the user id, or null.
   */
  async confirm(token: string, passwordHash: string, origin: { ip: string; requestId: string }): Promise<string | null> {
    return this.db.transaction(async (trx) => {
      const result = await trx.raw<{ rows: Array<{ id: string }> }>(
        `WITH spent AS (
           UPDATE password_reset_tokens SET used_at = now()
            WHERE token_hash = ? AND used_at IS NULL AND expires_at > now()
           RETURNING user_id)
         UPDATE users SET password_hash = ?, sessions_valid_after = now(), updated_at = now()
           FROM spent WHERE users.id = spent.user_id AND NOT users.disabled
         RETURNING users.id`,
        [hashToken(token), passwordHash],
      );
      const userId = result.rows[0]?.id ?? null;
      if (userId === null) return null;
      await this.refresh.revokeAllForUser(userId, 'password reset', trx);
      await this.onSessionsEnded(userId, { reason: 'password reset', familyIds: null }, trx);
      await trx('password_reset_tokens').where({ user_id: userId }).whereNull('used_at').update({ used_at: trx.fn.now() });
      await this.audit.record({ action: 'auth.password_reset', actorUserId: userId, targetUserId: userId, ip: origin.ip, requestId: origin.requestId }, trx);
      return userId;
    });
  }

  async prune(): Promise<void> {
    await this.db('password_reset_tokens').where('expires_at', '<', this.db.raw(`now() - interval '1 day'`)).delete();
    await this.db('password_reset_requests').whereNotNull('processed_at').where('created_at', '<', this.db.raw(`now() - interval '1 day'`)).delete();
  }
}
