import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Knex } from 'knex';
import { UnauthorizedError } from '../http/errors.ts';

export type Direction = 'download' | 'upload';

/** A file of the data directory, or a backup's archive (`path` is then the agent's backup id). */
export type SignedKind = 'file' | 'archive';

export interface SignedGrant {
  kind: SignedKind;
  userId: string;
  instanceId: string;
  plugin: string;
  path: string;
  direction: Direction;
  expiresAt: Date;
  nonce: string;
}

interface Payload {
  k: SignedKind;
  u: string;
  i: string;
  g: string;
  p: string;
  d: Direction;
  e: number;
  n: string;
}

/** A download may be resumed a few times within its life; an upload is spent by its first use. */
const maxUses: Record<Direction, number> = { download: 5, upload: 1 };
const invalid = (): UnauthorizedError => new UnauthorizedError('SIGNED_URL_INVALID', 'This link is invalid, expired or used up; get a new one from the portal');

/**
 * Short-lived URLs a browser can use without the bearer header: the token is the grant
 * (user, instance, path, direction, expiry) with an HMAC made with a key of its own, never
 * the access-token key. Uses are counted in the database, so limits hold across replicas.
 */
export class SignedUrls {
  constructor(
    private readonly db: Knex,
    private readonly key: string,
    private readonly ttlS: number,
  ) {}

  private mac(body: string): Buffer {
    return createHmac('sha256', this.key).update(`signed-url:${body}`).digest();
  }

  issue(grant: Omit<SignedGrant, 'expiresAt' | 'nonce'>): { token: string; expiresAt: Date } {
    const expiresAt = new Date(Date.now() + this.ttlS * 1000);
    const payload: Payload = {
      k: grant.kind,
      u: grant.userId,
      i: grant.instanceId,
      g: grant.plugin,
      p: grant.path,
      d: grant.direction,
      e: Math.floor(expiresAt.getTime() / 1000),
      n: randomBytes(12).toString('base64url'),
    };
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return { token: `${body}.${this.mac(body).toString('base64url')}`, expiresAt };
  }

  /** Checks the signature and expiry, then counts one use; throws SIGNED_URL_INVALID otherwise. */
  async spend(token: string, direction: Direction): Promise<SignedGrant> {
    const [body, mac] = token.split('.');
    if (!body || !mac) throw invalid();
    const expected = this.mac(body);
    const given = Buffer.from(mac, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid();
    let payload: Payload;
    try {
      payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Payload;
    } catch {
      throw invalid();
    }
    if (payload.d !== direction || payload.e * 1000 < Date.now()) throw invalid();
    const expiresAt = new Date(payload.e * 1000);
    const counted = await this.db.raw<{ rows: Array<{ uses: number }> }>(
      `INSERT INTO signed_url_uses (nonce, uses, expires_at) VALUES (?, 1, ?)
       ON CONFLICT (nonce) DO UPDATE SET uses = signed_url_uses.uses + 1 WHERE signed_url_uses.uses < ?
       RETURNING uses`,
      [payload.n, expiresAt, maxUses[direction]],
    );
    if (counted.rows.length === 0) throw invalid();
    return { kind: payload.k, userId: payload.u, instanceId: payload.i, plugin: payload.g, path: payload.p, direction, expiresAt, nonce: payload.n };
  }

  async prune(): Promise<number> {
    return this.db('signed_url_uses').where('expires_at', '<', this.db.raw(`now() - interval '1 hour'`)).delete();
  }
}
