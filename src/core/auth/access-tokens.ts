import { createHash, randomUUID } from 'node:crypto';
import { SignJWT, errors, jwtVerify } from 'jose';
import { UnauthorizedError } from '../http/errors.ts';
import type { Role } from './user-schemas.ts';

export interface AccessClaims {
  userId: string;
  role: Role;
  tokenId: string;
  familyId: string;
  issuedAt: Date;
  expiresAt: Date;
}

export interface IssuedAccessToken {
  token: string;
  expiresIn: number;
  claims: AccessClaims;
}

/** The one algorithm we sign and accept; `alg: none` and every other algorithm are refused. */
export const accessTokenAlgorithm = 'HS256';
const algorithm = accessTokenAlgorithm;

/** The signing key, derived from the configured or stored secret. */
export function accessTokenKey(secret: string): Uint8Array {
  return createHash('sha256').update(`panel:access-token:${secret}`).digest();
}

/**
 * Short-lived JWTs. The key is derived from the configured or stored secret, so every
 * replica and every restart signs and verifies with the same key.
 */
export class AccessTokens {
  private readonly key: Uint8Array;

  constructor(
    secret: string,
    private readonly issuer: string,
    private readonly audience: string,
    private readonly ttlS: number,
  ) {
    this.key = accessTokenKey(secret);
  }

  async issue(userId: string, role: Role, familyId: string): Promise<IssuedAccessToken> {
    const tokenId = randomUUID();
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ role, fid: familyId })
      .setProtectedHeader({ alg: algorithm, typ: 'JWT' })
      .setSubject(userId)
      .setJti(tokenId)
      .setIssuer(this.issuer)
      .setAudience(this.audience)
      .setIssuedAt(now)
      .setExpirationTime(now + this.ttlS)
      .sign(this.key);
    return {
      token,
      expiresIn: this.ttlS,
      claims: { userId, role, tokenId, familyId, issuedAt: new Date(now * 1000), expiresAt: new Date((now + this.ttlS) * 1000) },
    };
  }

  async verify(token: string): Promise<AccessClaims> {
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: [algorithm], issuer: this.issuer, audience: this.audience, requiredClaims: ['sub', 'jti', 'exp', 'iat'] });
      const { sub, jti, iat, exp, role, fid } = payload;
      if (typeof sub !== 'string' || typeof jti !== 'string' || typeof iat !== 'number' || typeof exp !== 'number' || typeof fid !== 'string' || (role !== 'admin' && role !== 'user')) {
        throw new UnauthorizedError('AUTH_TOKEN_INVALID', 'The access token is malformed; sign in again');
      }
      return { userId: sub, role, tokenId: jti, familyId: fid, issuedAt: new Date(iat * 1000), expiresAt: new Date(exp * 1000) };
    } catch (err) {
      if (err instanceof UnauthorizedError) throw err;
      if (err instanceof errors.JWTExpired) throw new UnauthorizedError('AUTH_TOKEN_EXPIRED', 'The access token has expired; refresh it or sign in again');
      throw new UnauthorizedError('AUTH_TOKEN_INVALID', 'The access token is not valid; sign in again');
    }
  }
}
