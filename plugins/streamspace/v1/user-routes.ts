import { z } from 'zod';
import { defineRoute, emailSchema, paginationOf, paginationSchema, passwordSchema, roleSchema, usernameSchema, type Accounts, type RouteDefinition } from '../../../src/plugin-api/index.ts';
import type { V1Api } from './api.ts';
import { pageQuery } from './pages.ts';
import { exampleV1User, v1User, v1UserSchema } from './user-view.ts';

const base = '/api/v1';

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
        examples: { responses: { 200: { users: [exampleV1User], pagination: { page: 1, limit: 20, total: 1, total_pages: 1 } } } },
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
        examples: { body: { username: 'john.doe', email: 'john.doe@mail.test', password: 'secure-password', role: 'user' }, responses: { 201: { ...exampleV1User, last_login: null } } },
        handler: async (req) => {
          const actor = req.principal;
          const user = await accounts.create(req.body, { userId: actor.userId, ip: req.ip, requestId: req.requestId });
          return { status: 201, body: v1User(user) };
        },
      }),
    ),
  ];
}
