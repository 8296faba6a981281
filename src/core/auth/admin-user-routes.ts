import { z } from 'zod';
import { defineRoute, type RouteDefinition, type RouteRequest } from '../http/route.ts';
import { NotFoundError } from '../http/errors.ts';
import { paginationOf, paginationQuery, paginationSchema } from '../http/pagination.ts';
import { exampleUser, exampleUserId } from './examples.ts';
import { emailSchema, passwordSchema, roleSchema, userBody, userSchema, usernameSchema } from './user-schemas.ts';
import type { Actor, UserAdmin } from './user-admin.ts';
import { toUser, type UserStore } from './user-store.ts';

const tags = ['admin'];
const idParams = z.object({ id: z.uuid() });

const actorOf = (req: RouteRequest): Actor => ({ userId: req.principal?.userId ?? null, ip: req.ip, requestId: req.requestId });

export function adminUserRoutes(users: UserStore, userAdmin: UserAdmin): RouteDefinition[] {
  return [
    defineRoute({
      method: 'get',
      path: '/api/admin/users',
      summary: 'List users',
      tags,
      auth: 'admin',
      request: { query: paginationQuery.extend({ role: roleSchema.optional() }) },
      responses: { 200: z.object({ users: z.array(userSchema), pagination: paginationSchema }) },
      examples: { responses: { 200: { users: [exampleUser], pagination: { page: 1, limit: 20, total: 1, total_pages: 1 } } } },
      handler: async ({ query }) => {
        const { rows, total } = await users.list(query.page, query.limit, query.role);
        return { body: { users: rows.map(toUser), pagination: paginationOf(query.page, query.limit, total) } };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/admin/users',
      summary: 'Create a user',
      tags,
      auth: 'admin',
      request: { body: z.strictObject({ username: usernameSchema, email: emailSchema, password: passwordSchema, role: roleSchema.default('user') }) },
      responses: { 201: userBody },
      examples: { body: { username: 'alice', email: 'alice@mail.test', password: 'correct horse battery', role: 'user' }, responses: { 201: { user: { ...exampleUser, last_login_at: null } } } },
      errors: { 409: 'That username or email is already taken (USER_EXISTS)' },
      handler: async (req) => ({ status: 201, body: { user: toUser(await userAdmin.create(req.body, actorOf(req))) } }),
    }),
    defineRoute({
      method: 'get',
      path: '/api/admin/users/:id',
      summary: 'Read a user',
      tags,
      auth: 'admin',
      request: { params: idParams },
      responses: { 200: userBody },
      examples: { responses: { 200: { user: exampleUser } } },
      handler: async ({ params }) => {
        const row = await users.byId(params.id);
        if (!row) throw new NotFoundError('user', params.id);
        return { body: { user: toUser(row) } };
      },
    }),
    defineRoute({
      method: 'patch',
      path: '/api/admin/users/:id',
      summary: "Change a user's role, disabled flag or email",
      description: 'Disabling ends every session of the user at once. The last active admin cannot be demoted or disabled (409 LAST_ADMIN).',
      tags,
      auth: 'admin',
      request: {
        params: idParams,
        body: z
          .strictObject({ role: roleSchema.optional(), disabled: z.boolean().optional(), email: emailSchema.optional() })
          .refine((b) => b.role !== undefined || b.disabled !== undefined || b.email !== undefined, 'send at least one of role, disabled, email'),
      },
      responses: { 200: userBody },
      examples: { body: { disabled: true }, responses: { 200: { user: { ...exampleUser, disabled: true } } } },
      errors: { 409: 'That email is already taken (USER_EXISTS), or the change would leave no active admin (LAST_ADMIN)' },
      handler: async (req) => ({ body: { user: toUser(await userAdmin.patch(req.params.id, req.body, actorOf(req))) } }),
    }),
    defineRoute({
      method: 'delete',
      path: '/api/admin/users/:id',
      summary: 'Delete a user (refused for the last active admin, and while they own instances)',
      tags,
      auth: 'admin',
      request: { params: idParams },
      responses: { 204: null },
      examples: { params: { id: exampleUserId } },
      errors: { 409: 'LAST_ADMIN, USER_HAS_INSTANCES (delete their instances first)' },
      handler: async (req) => {
        await userAdmin.remove(req.params.id, actorOf(req));
        return { status: 204 };
      },
    }),
  ];
}
