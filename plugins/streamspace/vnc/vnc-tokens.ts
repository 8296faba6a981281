import type { Knex } from 'knex';
import { hashToken, newOpaqueToken, type Principal } from '../../../src/plugin-api/index.ts';

interface TokenRow {
  user_id: string;
  role: 'admin' | 'user';
  token_id: string;
  family_id: string;
  expires_at: Date;
}

/**
 * The addendum's short-lived VNC tokens: single-use, for one session, stored hashed, and
 * bound to the login that minted them, so the caller re-checks that login (logout, reset,
 * disable, demotion end it) and logout closes a viewer opened with one.
 */
export class VncTokens {
  constructor(private readonly db: Knex) {}

  async issue(principal: Principal, sessionId: string, ttlS: number): Promise<{ token: string; expiresAt: Date }> {
    const token = `vnc_${newOpaqueToken()}`;
    const expiresAt = new Date(Date.now() + ttlS * 1000);
    await this.db('streamspace_vnc_tokens').insert({
      token_hash: hashToken(token),
      session_id: sessionId,
      user_id: principal.userId,
      role: principal.role,
      token_id: principal.tokenId,
      family_id: principal.familyId,
      expires_at: expiresAt,
    });
    return { token, expiresAt };
  }

  /** Spends the token for this session; the login it came from, or null when it is unknown, used, expired or for another session. */
  async redeem(token: string, sessionId: string): Promise<Principal | null> {
    const [row] = await this.db('streamspace_vnc_tokens')
      .where({ token_hash: hashToken(token), session_id: sessionId })
      .whereNull('used_at')
      .where('expires_at', '>', this.db.fn.now())
      .update({ used_at: this.db.fn.now() })
      .returning<TokenRow[]>(['user_id', 'role', 'token_id', 'family_id', 'expires_at']);
    return row ? { userId: row.user_id, role: row.role, tokenId: row.token_id, familyId: row.family_id, expiresAt: new Date(row.expires_at) } : null;
  }

  async prune(): Promise<number> {
    const gone = await this.db('streamspace_vnc_tokens').where('expires_at', '<', this.db.raw(`now() - interval '1 hour'`)).delete().returning('token_hash');
    return gone.length;
  }
}
