import { UnauthorizedError } from './errors.ts';
import type { Authenticator } from './principal.ts';

/** Used when no auth module is wired: protected routes answer 401 instead of opening up. */
export const denyAllAuthenticator: Authenticator = () =>
  Promise.reject(new UnauthorizedError('AUTH_TOKEN_INVALID', 'No authentication is configured on this server'));
