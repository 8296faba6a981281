import type { Knex } from 'knex';
import { deriveToken, hashToken, newOpaqueToken } from '../crypto/opaque-token.ts';

export interface IssuedRefresh {
  familyId: string;
  userId: string;
  token: string;
  expiresAt: Date;
}

export type RotationResult =
  ({ kind: 'rotated' | 'grace' } & IssuedRefresh) | { kind: 'reused'; familyId: string; userId: string } | { kind: 'invalid'; reason: 'unknown' | 'expired' | 'revoked'; revokedReason?: string };

export const reusedReason = 'refresh token reused';
export const disabledReason = 'user disabled';

interface TokenRow {
  token_hash: string;
  family_id: string;
  expires_at: Date;
  spent_at: Date | null;
  child_hash: string | null;
  user_id: string;
  revoked_at: Date | null;
  revoked_reason: string | null;
  db_now: Date;
}

/**
 * Opaque refresh tokens in families. Only hashes are stored. A child token is derived from
 * its parent with a server key (HMAC), so a concurrent refresh inside the grace window can
 * be handed the very same child without the raw child ever being stored.
 */
export class RefreshTokens {
  constructor(
    private readonly db: Knex,
    private readonly childKey: string,
    private readonly ttlS: number,
    private readonly graceS: number,
  ) {}

  private expiry(): Date {
    return new Date(Date.now() + this.ttlS * 1000);
  }

  async startFamily(userId: string, trx: Knex = this.db): Promise<IssuedRefresh> {
    const token = newOpaqueToken();
    const expiresAt = this.expiry();
    const [family] = await trx('refresh_families').insert({ user_id: userId, expires_at: expiresAt }).returning<Array<{ id: string }>>('id');
    const familyId = (family as { id: string }).id;
    await trx('refresh_tokens').insert({ token_hash: hashToken(token), family_id: familyId, expires_at: expiresAt });
    return { familyId, userId, token, expiresAt };
  }

  /** The family a token belongs to, without locking: lets the caller rate-limit per family first. */
  async familyOf(token: string): Promise<string | null> {
    const row = await this.db('refresh_tokens')
      .where({ token_hash: hashToken(token) })
      .first<{ family_id: string } | undefined>('family_id');
    return row?.family_id ?? null;
  }

  /**
   * Spends `token` and issues its child, under a row lock so racing refreshes of one token
   * serialise: the first rotates, the others (inside the grace window) get the same child,
   * and anything later is reuse, which revokes the whole family.
   */
  async rotate(token: string): Promise<RotationResult> {
    const parentHash = hashToken(token);
    return this.db.transaction(async (trx) => {
      const found = await trx.raw<{ rows: TokenRow[] }>(
        `SELECT t.token_hash, t.family_id, t.expires_at, t.spent_at, t.child_hash, f.user_id, f.revoked_at, f.revoked_reason, now() AS db_now
           FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
          WHERE t.token_hash = ? FOR UPDATE OF t`,
        [parentHash],
      );
      const row = found.rows[0];
      if (!row) return { kind: 'invalid', reason: 'unknown' } as const;
      if (row.revoked_at !== null) return { kind: 'invalid', reason: 'revoked', revokedReason: row.revoked_reason ?? '' } as const;
      const now = new Date(row.db_now).getTime();
      const child = deriveToken(this.childKey, 'refresh-child', token);
      const childHash = hashToken(child);
      if (row.spent_at !== null) {
        const withinGrace = now - new Date(row.spent_at).getTime() <= this.graceS * 1000;
        if (withinGrace && row.child_hash === childHash) {
          const childRow = await trx('refresh_tokens').where({ token_hash: childHash }).first<{ spent_at: Date | null; expires_at: Date } | undefined>('spent_at', 'expires_at');
          if (childRow && childRow.spent_at === null) {
            return { kind: 'grace', familyId: row.family_id, userId: row.user_id, token: child, expiresAt: new Date(childRow.expires_at) } as const;
          }
        }
        await this.revokeFamily(row.family_id, reusedReason, trx);
        return { kind: 'reused', familyId: row.family_id, userId: row.user_id } as const;
      }
      if (new Date(row.expires_at).getTime() <= now) return { kind: 'invalid', reason: 'expired' } as const;
      const expiresAt = this.expiry();
      await trx('refresh_tokens').where({ token_hash: parentHash }).update({ spent_at: trx.fn.now(), child_hash: childHash });
      await trx('refresh_tokens').insert({ token_hash: childHash, family_id: row.family_id, expires_at: expiresAt });
      await trx('refresh_families').where({ id: row.family_id }).update({ expires_at: expiresAt });
      return { kind: 'rotated', familyId: row.family_id, userId: row.user_id, token: child, expiresAt } as const;
    });
  }

  async revokeFamily(familyId: string, reason: string, trx: Knex = this.db): Promise<void> {
    await trx('refresh_families').where({ id: familyId }).whereNull('revoked_at').update({ revoked_at: trx.fn.now(), revoked_reason: reason });
  }

  async revokeAllForUser(userId: string, reason: string, trx: Knex = this.db): Promise<void> {
    await trx('refresh_families').where({ user_id: userId }).whereNull('revoked_at').update({ revoked_at: trx.fn.now(), revoked_reason: reason });
  }

  /** Drops families that ended a day ago or more (their tokens go with them). */
  async prune(): Promise<number> {
    return this.db('refresh_families').where('expires_at', '<', this.db.raw(`now() - interval '1 day'`)).delete();
  }
}
