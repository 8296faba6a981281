import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';

/** How long a relay token opens a relay: long enough for one connect, too short to be worth stealing. */
export const relayTokenTtlSeconds = 10;

/** What a relay token says: who may open which stream on which replica, until when. */
export interface RelayClaims {
  /** The channel (`<plugin>.<name>`) the stream is for. */
  channel: string;
  /** The replica that may accept it; any other refuses. */
  to: string;
  /** The replica that opened it, for logs. */
  from: string;
  /** The stream it is bound to: the channel's handler acts on exactly this and nothing from the request. */
  data: Record<string, unknown>;
  /** Unix seconds. */
  exp: number;
  /** Single use: the receiving replica remembers it until it expires. */
  jti: string;
}

const sign = (secret: string, payload: string): Buffer => createHmac('sha256', secret).update(`panel-relay.${payload}`).digest();

/** `<payload>.<mac>`, both base64url; the payload is the claims as JSON. */
export function signRelayToken(secret: string, input: Omit<RelayClaims, 'exp' | 'jti'>, nowMs = Date.now()): string {
  const claims: RelayClaims = { ...input, exp: Math.floor(nowMs / 1000) + relayTokenTtlSeconds, jti: randomUUID() };
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${payload}.${sign(secret, payload).toString('base64url')}`;
}

export type RelayTokenProblem = 'malformed' | 'bad_signature' | 'expired' | 'wrong_replica' | 'wrong_channel';

/** The claims, or why the token opens nothing. The signature is checked before anything in the payload is believed. */
export function verifyRelayToken(secret: string, token: string, expected: { channel: string; replicaId: string }, nowMs = Date.now()): RelayClaims | { problem: RelayTokenProblem } {
  const [payload, mac, extra] = token.split('.');
  if (!payload || !mac || extra !== undefined) return { problem: 'malformed' };
  const given = Buffer.from(mac, 'base64url');
  const wanted = sign(secret, payload);
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) return { problem: 'bad_signature' };
  let claims: RelayClaims;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as RelayClaims;
  } catch {
    return { problem: 'malformed' };
  }
  if (typeof claims.exp !== 'number' || typeof claims.jti !== 'string' || typeof claims.data !== 'object' || claims.data === null) return { problem: 'malformed' };
  if (claims.exp * 1000 < nowMs) return { problem: 'expired' };
  if (claims.to !== expected.replicaId) return { problem: 'wrong_replica' };
  if (claims.channel !== expected.channel) return { problem: 'wrong_channel' };
  return claims;
}
