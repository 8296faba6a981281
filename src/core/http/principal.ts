import type { IncomingHttpHeaders } from 'node:http';

/** The authenticated caller of a request or a WebSocket upgrade. */
export interface Principal {
  userId: string;
  role: 'admin' | 'user';
  /** The access token's `jti`, so logout can revoke exactly this token. */
  tokenId: string;
  /** The refresh family the token was minted from; revoking it ends this token too. */
  familyId: string;
  expiresAt: Date;
}

/**
 * Turns request headers into a principal or throws UnauthorizedError. The auth module
 * provides the real one; until it is wired, every protected route fails closed.
 */
export type Authenticator = (headers: IncomingHttpHeaders) => Promise<Principal>;

/** Spends a single-use ticket for a purpose (and resource) and returns whose it was; throws when it is not valid. */
export type TicketRedeemer = (ticket: string, purpose: string, resourceId: string | null) => Promise<Principal>;
