import { createHash, createHmac, randomBytes } from 'node:crypto';

/** 256 random bits, URL-safe: refresh tokens, reset tokens, tickets. */
export function newOpaqueToken(): string {
  return randomBytes(32).toString('base64url');
}

/** What the database keeps instead of a token: a leaked table gives no usable token. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A keyed, deterministic token derived from another: the same input always gives the same output. */
export function deriveToken(key: string, label: string, from: string): string {
  return createHmac('sha256', key).update(`${label}:${from}`).digest('base64url');
}
