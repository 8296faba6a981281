import { z } from 'zod';
import { defineRoute, type RouteDefinition } from '../../../src/plugin-api/index.ts';
import type { V1Api } from './api.ts';
import { buckets } from './buckets.ts';
import { v1User, v1UserSchema } from './user-view.ts';

const base = '/api/v1';

const loginUserSchema = v1UserSchema.pick({ id: true, username: true, email: true, role: true, created_at: true });

const exampleUser = { id: '550e8400-e29b-41d4-a716-446655440000', username: 'admin', email: 'admin@example.com', role: 'admin', created_at: '2025-11-01T10:00:00Z' };

/** Seed "Authentication": login for a 24 h token of this API's own audience, and server-side logout. */
export function authRoutes(v1: V1Api): RouteDefinition[] {
  return [
    v1.route(
      defineRoute({
        method: 'post',
        path: `${base}/auth/login`,
        summary: 'Log in with username (or email) and password for a 24-hour token',
        description:
          'Counted per IP and username (5/min), per IP (20/min), and per account across IPs together with the portal login (auth_login_account). A disabled account gets 403 AUTH_USER_DISABLED.',
        auth: 'none',
        request: { body: z.strictObject({ username: z.string().min(1).max(254), password: z.string().min(1).max(1024) }) },
        responses: { 200: z.object({ token: z.string(), user: loginUserSchema, expires_at: z.iso.datetime() }) },
        errors: { 401: 'AUTH_INVALID_CREDENTIALS', 403: 'AUTH_USER_DISABLED', 429: 'RATE_LIMIT_EXCEEDED (retry_after in the body)' },
        examples: {
          body: { username: 'admin', password: 'your-password' },
          responses: { 200: { token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...', user: exampleUser, expires_at: '2025-11-23T10:00:00Z' } },
        },
        handler: async (req) => {
          // The account's budget across every IP and both login routes, then the most specific (reported in the headers).
          await req.limit(buckets.loginAccount, req.body.username.toLowerCase());
          await req.limit(buckets.login, `${req.ip}:${req.body.username.toLowerCase()}`);
          const session = await v1.tokens.login(req.body.username, req.body.password, { ip: req.ip, requestId: req.requestId });
          const user = v1User(session.user);
          return {
            body: {
              token: session.token,
              user: { id: user.id, username: user.username, email: user.email, role: user.role, created_at: user.created_at },
              expires_at: session.expiresAt.toISOString(),
            },
          };
        },
      }),
      buckets.loginIp,
    ),
    v1.route(
      defineRoute({
        method: 'post',
        path: `${base}/auth/logout`,
        summary: 'Revoke this token server-side',
        description: 'Fails closed: if the revocation cannot be stored the answer is an error, never a success.',
        auth: 'user',
        responses: { 200: z.object({ message: z.string() }) },
        examples: { responses: { 200: { message: 'Logout successful' } } },
        handler: async (req) => {
          await v1.tokens.logout(req.principal, { ip: req.ip, requestId: req.requestId });
          return { body: { message: 'Logout successful' } };
        },
      }),
    ),
  ];
}
