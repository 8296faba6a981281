import { createHash, randomBytes, createHmac } from 'node:crypto';

/** The claims of a real access token, read from one the stand was issued. */
export interface TokenClaims {
  sub: string;
  aud: string;
  iss: string;
  role?: string;
  fid?: string;
  jti?: string;
  iat: number;
  exp: number;
}

export type ForgedKind = 'alg-none' | 'other-key' | 'expired' | 'other-audience';

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

function sign(header: Record<string, unknown>, payload: Record<string, unknown>, key: Uint8Array | null): string {
  const head = `${b64(header)}.${b64(payload)}`;
  return key === null ? `${head}.` : `${head}.${createHmac('sha256', key).update(head).digest('base64url')}`;
}

/** The access-token key as the server derives it (src/core/auth/access-tokens.ts accessTokenKey). */
const keyOf = (secret: string): Uint8Array => createHash('sha256').update(`panel:access-token:${secret}`).digest();

/**
 * Tokens a careless verifier would take: `alg: none`, signed with another key, expired but
 * signed with the real key, and signed with the real key for another audience. Each claims the
 * admin role for the real user, so accepting any is a privilege escalation, not just a login.
 */
function forgeFrom(secret: string, real: TokenClaims): Record<ForgedKind, string> {
  const now = Math.floor(Date.now() / 1000);
  const claims = { ...real, role: 'admin', jti: randomBytes(8).toString('hex'), iat: now, exp: now + 600 };
  const header = { alg: 'HS256', typ: 'JWT' };
  return {
    'alg-none': sign({ alg: 'none', typ: 'JWT' }, claims, null),
    'other-key': sign(header, claims, randomBytes(32)),
    expired: sign(header, { ...claims, iat: now - 7200, exp: now - 3600 }, keyOf(secret)),
    'other-audience': sign(header, { ...claims, aud: 'someone-else' }, keyOf(secret)),
  };
}

export function forgedTokens(secret: string, core: TokenClaims, v1: TokenClaims): { core: Record<ForgedKind, string>; v1: Record<ForgedKind, string> } {
  return { core: forgeFrom(secret, core), v1: forgeFrom(secret, v1) };
}
