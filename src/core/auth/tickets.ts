import type { Knex } from 'knex';
import { hashToken, newOpaqueToken } from '../crypto/opaque-token.ts';

export interface IssuedTicket {
  ticket: string;
  expiresAt: Date;
}

/**
 * Single-use, short-lived tickets for clients that cannot send an Authorization header
 * (browser WebSockets and EventSource): bound to a user, a purpose and optionally a
 * resource; stored hashed; spent atomically by the first use.
 */
export class Tickets {
  constructor(private readonly db: Knex) {}

  async issue(userId: string, purpose: string, resourceId: string | null, ttlS = 60): Promise<IssuedTicket> {
    const ticket = newOpaqueToken();
    const expiresAt = new Date(Date.now() + ttlS * 1000);
    await this.db('tickets').insert({ ticket_hash: hashToken(ticket), purpose, user_id: userId, resource_id: resourceId, expires_at: expiresAt });
    return { ticket, expiresAt };
  }

  /** Spends the ticket; the user id when it was valid for this purpose (and resource), else null. */
  async consume(ticket: string, purpose: string, resourceId: string | null): Promise<string | null> {
    const rows = await this.db('tickets')
      .where({ ticket_hash: hashToken(ticket), purpose })
      .modify((q) => {
        if (resourceId !== null) void q.where({ resource_id: resourceId });
      })
      .whereNull('used_at')
      .where('expires_at', '>', this.db.fn.now())
      .update({ used_at: this.db.fn.now() })
      .returning<Array<{ user_id: string }>>('user_id');
    return rows[0]?.user_id ?? null;
  }

  async prune(): Promise<number> {
    return this.db('tickets').where('expires_at', '<', this.db.raw(`now() - interval '1 hour'`)).delete();
  }
}
