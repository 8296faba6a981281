import { z } from 'zod';
import { defineRoute, type RouteDefinition } from '../http/route.ts';
import { BadRequestError, ForbiddenError, UnauthorizedError } from '../http/errors.ts';
import type { Principal } from '../http/principal.ts';
import { exampleTokens, exampleUser } from './examples.ts';
import { emailSchema, passwordSchema, userBody, userSchema, usernameSchema } from './user-schemas.ts';
import type { SessionService } from './session-service.ts';
import type { UserAdmin } from './user-admin.ts';
import type { PasswordReset } from './password-reset.ts';
import type { PasswordHasher } from './password-hasher.ts';
import { toUser, type UserStore } from './user-store.ts';
import type { AuditLog } from '../audit/audit-log.ts';

export interface AuthRouteDeps {
  registrationEnabled: boolean;
  sessions: SessionService;
  userAdmin: UserAdmin;
  users: UserStore;
  reset: PasswordReset;
  hasher: PasswordHasher;
  audit: AuditLog;
}

const tokenBody = z
  .object({
    access_token: z.string(),
    token_type: z.literal('Bearer'),
    expires_in: z.number().int(),
    refresh_token: z.string(),
    refresh_expires_at: z.iso.datetime(),
    user: userSchema,
  })
  .meta({ id: 'TokenPair' });

const acceptedBody = z.object({ status: z.literal('accepted'), message: z.string() });
const tags = ['auth'];

function principalOf(p: Principal | null): Principal {
  if (!p) throw new Error('route declared auth but has no principal');
  return p;
}

export function authRoutes(deps: AuthRouteDeps): RouteDefinition[] {
  return [
    defineRoute({
      method: 'post',
      path: '/api/auth/register',
      summary: 'Create an account (when self-registration is on)',
      tags,
      auth: 'none',
      request: { body: z.strictObject({ email: emailSchema, username: usernameSchema, password: passwordSchema }) },
      responses: { 201: userBody },
      examples: { body: { email: 'alice@mail.test', username: 'alice', password: 'correct horse battery' }, responses: { 201: { user: { ...exampleUser, last_login_at: null } } } },
      errors: { 403: 'Self-registration is turned off (REGISTRATION_DISABLED)', 409: 'That username or email is already taken (USER_EXISTS)' },
      rateLimits: [{ name: 'auth_register_ip', key: (req) => req.ip }],
      handler: async ({ body, ip, requestId }) => {
        if (!deps.registrationEnabled) throw new ForbiddenError('REGISTRATION_DISABLED', 'Self-registration is turned off; ask an administrator for an account');
        const row = await deps.userAdmin.create({ ...body, role: 'user' }, { userId: null, ip, requestId }, 'auth.register');
        return { status: 201, body: { user: toUser(row) } };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/auth/login',
      summary: 'Sign in with a username or email and a password',
      description: 'A wrong password and an unknown account get the same 401 body. Limited per account and IP, and per IP.',
      tags,
      auth: 'none',
      request: { body: z.strictObject({ login: z.string().min(1).max(254), password: z.string().min(1).max(1024) }) },
      responses: { 200: tokenBody },
      examples: { body: { login: 'alice', password: 'correct horse battery' }, responses: { 200: exampleTokens } },
      errors: { 401: 'The login or password is wrong (AUTH_INVALID_CREDENTIALS)', 403: 'This account is disabled (AUTH_USER_DISABLED)' },
      rateLimits: [
        { name: 'auth_login_account_ip', key: (req) => `${String((req.body as { login: string }).login).toLowerCase()}|${req.ip}` },
        { name: 'auth_login_ip', key: (req) => req.ip },
        { name: 'auth_login_account', key: (req) => String((req.body as { login: string }).login).toLowerCase() },
      ],
      handler: async ({ body, ip, requestId }) => ({ body: await deps.sessions.login(body.login, body.password, { ip, requestId }) }),
    }),
    defineRoute({
      method: 'post',
      path: '/api/auth/refresh',
      summary: 'Trade a refresh token for a new access token and a new refresh token',
      description:
        'The presented token is spent. Presenting a spent token again revokes its whole family (401 AUTH_REFRESH_REUSED), except within a short grace window, where a concurrent refresh gets the same new token.',
      tags,
      auth: 'none',
      request: { body: z.strictObject({ refresh_token: z.string().min(16).max(256) }) },
      responses: { 200: tokenBody },
      examples: { body: { refresh_token: 'rt_9c4f0e2b7a1d4e6f8b3c5a7d9e1f2a4b' }, responses: { 200: exampleTokens } },
      errors: {
        401: 'The refresh token is invalid or expired (AUTH_REFRESH_INVALID), or was used twice, which ends its whole session family (AUTH_REFRESH_REUSED)',
        403: 'This account is disabled (AUTH_USER_DISABLED)',
      },
      rateLimits: [{ name: 'auth_refresh_ip', key: (req) => req.ip }],
      handler: async (req) => {
        const family = await deps.sessions.familyOf(req.body.refresh_token);
        if (family) await req.limit('auth_refresh_family', family);
        return { body: await deps.sessions.rotate(req.body.refresh_token, { ip: req.ip, requestId: req.requestId }) };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/auth/logout',
      summary: 'End this session: the access token and its refresh family stop working at once',
      tags,
      auth: 'user',
      request: { body: z.strictObject({ refresh_token: z.string().min(16).max(256).optional() }) },
      responses: { 204: null },
      examples: { body: { refresh_token: 'rt_9c4f0e2b7a1d4e6f8b3c5a7d9e1f2a4b' } },
      handler: async ({ principal, body, ip, requestId }) => {
        await deps.sessions.logout(principalOf(principal), body.refresh_token, { ip, requestId });
        return { status: 204 };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/auth/password-reset',
      summary: 'Ask for a password-reset mail',
      description:
        'Always 202 with the same body and the same work on the request path, whether or not an account uses the email. The mail goes out within a few seconds (the mail job runs every 5 s).',
      tags,
      auth: 'none',
      request: { body: z.strictObject({ email: emailSchema }) },
      responses: { 202: acceptedBody },
      examples: { body: { email: 'alice@mail.test' }, responses: { 202: { status: 'accepted', message: 'If that address has an account, a reset mail is on its way' } } },
      rateLimits: [
        { name: 'auth_reset_email', key: (req) => String((req.body as { email: string }).email).toLowerCase() },
        { name: 'auth_reset_ip', key: (req) => req.ip },
      ],
      handler: async ({ body, ip, requestId }) => {
        await deps.reset.request(body.email, ip, requestId);
        return { status: 202, body: { status: 'accepted', message: 'If an account uses this email, a reset link is on its way.' } };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/auth/password-reset/confirm',
      summary: 'Set a new password with a reset token; ends every session of the account',
      tags,
      auth: 'none',
      request: { body: z.strictObject({ token: z.string().min(16).max(256), password: passwordSchema }) },
      responses: { 204: null },
      examples: { body: { token: 'pr_5e7a9c1b3d5f7a9c1e3b5d7f9a1c3e5b', password: 'a new long passphrase' } },
      errors: { 400: 'The reset token is invalid, used or expired (RESET_TOKEN_INVALID), or the body is invalid (VALIDATION_FAILED)' },
      rateLimits: [{ name: 'auth_reset_confirm_ip', key: (req) => req.ip }],
      handler: async ({ body, ip, requestId }) => {
        const invalid = new BadRequestError('RESET_TOKEN_INVALID', 'This reset link is invalid, used or expired; ask for a new one');
        if (!(await deps.reset.isUsable(body.token))) throw invalid;
        const userId = await deps.reset.confirm(body.token, await deps.hasher.hash(body.password), { ip, requestId });
        if (!userId) throw invalid;
        return { status: 204 };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/auth/me',
      summary: 'The signed-in user',
      tags,
      auth: 'user',
      responses: { 200: userBody },
      examples: { responses: { 200: { user: exampleUser } } },
      handler: async ({ principal }) => {
        const row = await deps.users.byId(principalOf(principal).userId);
        if (!row) throw new UnauthorizedError('AUTH_TOKEN_INVALID', 'This account no longer exists');
        return { body: { user: toUser(row) } };
      },
    }),
  ];
}
