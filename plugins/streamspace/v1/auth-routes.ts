import { z } from 'zod';
import { defineRoute, emailSchema, paginationOf, paginationSchema, passwordSchema, roleSchema, usernameSchema, type AccountView, type Accounts, type RouteDefinition } from '../../../src/plugin-api/index.ts';
import { buckets, type V1Api } from './api.ts';
import { pageQuery } from './pages.ts';

const base = '/api/v1';

export const v1UserSchema = z.object({
  id: z.uuid(),
  username: z.string(),
  email: z.string(),
  role: roleSchema,
  active: z.boolean(),
  created_at: z.iso.datetime(),
  last_login: z.iso.datetime().nullable(),
});

const loginUserSchema = v1UserSchema.pick({ id: true, username: true, email: true, role: true, created_at: true });

export function v1User(user: AccountView): z.infer<typeof v1UserSchema> {
  return { id: user.id, username: user.username, email: user.email, role: user.role, active: !user.disabled, created_at: user.createdAt.toISOString(), last_login: user.lastLoginAt?.toISOString() ?? null };
}

const exampleUser = { id: '550e8400-e29b-41d4-a716-446655440000', username: 'admin', email: 'admin@example.com', role: 'admin', created_at: '2025-11-01T10:00:00Z' };

/** Seed "Authentication": login for a 24 h token of this API's own audience, and server-side logout. */
export function authRoutes(v1: V1Api): RouteDefinition[] {
  return [
    v1.route(
      defineRoute({
        method: 'post',
        path: `${base}/auth/login`,
        summary: 'Log in with username (or email) and password for a 24-hour token',
        description: 'Counted per IP and username (5/min), per IP (20/min), and per account across IPs together with the portal login (auth_login_account). A disabled account gets 403 AUTH_USER_DISABLED.',
        auth: 'none',
        request: { body: z.strictObject({ username: z.string().min(1).max(254), password: z.string().min(1).max(1024) }) },
        responses: { 200: z.object({ token: z.string(), user: loginUserSchema, expires_at: z.iso.datetime() }) },
        errors: { 401: 'AUTH_INVALID_CREDENTIALS', 403: 'AUTH_USER_DISABLED', 429: 'RATE_LIMIT_EXCEEDED (retry_after in the body)' },
        examples: { body: { username: 'admin', password: 'your-password' }, responses: { 200: { token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...', user: exampleUser, expires_at: '2025-11-23T10:00:00Z' } } },
        handler: async (req) => {
          // The account's budget across every IP and both login routes, then the most specific (reported in the headers).
          await req.limit(buckets.loginAccount, req.body.username.toLowerCase());
          await req.limit(buckets.login, `${req.ip}:${req.body.username.toLowerCase()}`);
          const session = await v1.tokens.login(req.body.username, req.body.password, { ip: req.ip, requestId: req.requestId });
          const user = v1User(session.user);
          return { body: { token: session.token, user: { id: user.id, username: user.username, email: user.email, role: user.role, created_at: user.created_at }, expires_at: session.expiresAt.toISOString() } };
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
          await v1.tokens.logout(req.principal as NonNullable<typeof req.principal>, { ip: req.ip, requestId: req.requestId });
          return { body: { message: 'Logout successful' } };
        },
      }),
    ),
  ];
}

/** Seed "User Management" (admin only). */
export function userRoutes(v1: V1Api, accounts: Accounts): RouteDefinition[] {
  return [
    v1.route(
      defineRoute({
        method: 'get',
        path: `${base}/users`,
        summary: 'List users (admin)',
        auth: 'admin',
        request: { query: pageQuery(20).extend({ role: roleSchema.optional() }) },
        responses: { 200: z.object({ users: z.array(v1UserSchema), pagination: paginationSchema }) },
        handler: async (req) => {
          const { users, total } = await accounts.list(req.query.page, req.query.limit, req.query.role);
          return { body: { users: users.map(v1User), pagination: paginationOf(req.query.page, req.query.limit, total) } };
        },
      }),
    ),
    v1.route(
      defineRoute({
        method: 'post',
        path: `${base}/users`,
        summary: 'Create a user (admin)',
        description: 'A duplicate username or email answers 409 USER_EXISTS.',
        auth: 'admin',
        request: { body: z.strictObject({ username: usernameSchema, email: emailSchema, password: passwordSchema, role: roleSchema.default('user') }) },
        responses: { 201: v1UserSchema },
        errors: { 409: 'USER_EXISTS' },
        examples: { body: { username: 'john.doe', email: 'john.doe@example.com', password: 'secure-password', role: 'user' } },
        handler: async (req) => {
          const actor = req.principal as NonNullable<typeof req.principal>;
          const user = await accounts.create(req.body, { userId: actor.userId, ip: req.ip, requestId: req.requestId });
          return { status: 201, body: v1User(user) };
        },
      }),
    ),
  ];
}
