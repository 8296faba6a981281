import { z } from 'zod';
import {
  AppError,
  defineRoute,
  ForbiddenError,
  paginationOf,
  paginationQuery,
  paginationSchema,
  type Entitlements,
  type Instances,
  type Principal,
  type RouteDefinition,
} from '../../src/plugin-api/index.ts';
import type { GameConfig } from './config.ts';
import { serverIdParams, serverSchema, toServer, visibleServer, type GameSpec } from './game-server.ts';
import { exampleServer } from './examples.ts';

const lifecycleFilter = z.enum(['provisioning', 'active', 'failed', 'suspended', 'restoring_backup', 'deleting']);
const statusFilter = z.enum(['installing', 'stopped', 'starting', 'running', 'stopping', 'crashed', 'unknown']);

/** Letters, digits, spaces and a little punctuation; what a portal shows in a list and a title. */
const serverName = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[\p{L}\p{N}][\p{L}\p{N} _.'#()-]*$/u, 'use letters, digits, spaces and _ . \' # ( ) -, starting with a letter or digit');

const templateSchema = z.object({
  id: z.string(),
  display_name: z.string(),
  resources: serverSchema.shape.resources,
  backup_limit: z.number().int(),
});

/** Servers: list, create, read, delete. Everything on another user's server is a 404. */
export function serverRoutes(config: GameConfig, instances: Instances, entitlements: Entitlements, onDeleted: (serverId: string) => void): RouteDefinition[] {
  return [
    defineRoute({
      method: 'get',
      path: '/templates',
      summary: 'Server templates a user may pick when creating a server',
      tags: ['game'],
      auth: 'user',
      responses: { 200: z.object({ templates: z.array(templateSchema), default_template: z.string() }) },
      handler: async () => ({
        body: {
          templates: Object.entries(config.templates).map(([id, t]) => ({ id, display_name: t.display_name, resources: t.resources, backup_limit: t.backup_limit })),
          default_template: config.default_template,
        },
      }),
    }),
    defineRoute({
      method: 'get',
      path: '/servers',
      summary: 'The caller\'s game servers with their cached state (admins: everyone\'s, or one user\'s with ?user_id=)',
      tags: ['game'],
      auth: 'user',
      request: {
        query: paginationQuery.extend({
          lifecycle: lifecycleFilter.optional().describe('only servers in this lifecycle'),
          status: statusFilter.optional().describe('only servers whose agent last reported this status'),
          user_id: z.uuid().optional().describe('admins: only this user\'s servers'),
        }),
      },
      responses: { 200: z.object({ servers: z.array(serverSchema), pagination: paginationSchema }) },
      errors: { 403: 'A non-admin asked for another user\'s servers (AUTH_INSUFFICIENT_PERMISSIONS)' },
      examples: { responses: { 200: { servers: [exampleServer], pagination: { page: 1, limit: 20, total: 1, total_pages: 1 } } } },
      handler: async ({ query, principal }) => {
        const me = principal as Principal;
        if (query.user_id !== undefined && me.role !== 'admin' && query.user_id !== me.userId) throw new ForbiddenError();
        const ownerId = me.role === 'admin' ? query.user_id : me.userId;
        const { items, total } = await instances.list({ plugin: 'game', ownerId, lifecycle: query.lifecycle, status: query.status, page: query.page, limit: query.limit });
        return { body: { servers: items.map(toServer), pagination: paginationOf(query.page, query.limit, total) } };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/servers',
      summary: 'Creates a game server; it answers in `provisioning` and becomes `active` once its agent is semantically ready',
      description: 'Watch `instance.state` on /api/events (or poll GET) for the change. A server that is not ready before the provisioning deadline becomes `failed` with `lifecycle_reason`.',
      tags: ['game'],
      auth: 'user',
      request: { body: z.strictObject({ name: serverName, template: z.string().min(1).max(40).optional().describe('template id from GET /api/game/templates; default: the configured default') }) },
      responses: { 202: z.object({ server: serverSchema }) },
      errors: {
        400: 'Invalid name, or an unknown template (TEMPLATE_UNKNOWN, details.available lists the ids)',
        402: 'The plan allows no more game servers (PLAN_LIMIT_REACHED, details.limit and details.used), or a payment is overdue (BILLING_PAST_DUE)',
      },
      examples: { body: { name: 'Friday survival', template: 'sample' }, responses: { 202: { server: { ...exampleServer, state: { ...exampleServer.state, lifecycle: 'provisioning', ready: false, status: 'unknown', reachable: false } } } } },
      handler: async ({ body, principal }) => {
        const me = principal as Principal;
        const templateId = body.template ?? config.default_template;
        const template = config.templates[templateId];
        if (!template) {
          throw new AppError(400, 'TEMPLATE_UNKNOWN', 'Unknown template', `There is no template "${templateId}"; pick one from GET /api/game/templates`, { available: Object.keys(config.templates) });
        }
        const spec: GameSpec = {
          template: templateId,
          backup_limit: template.backup_limit,
          resources: template.resources,
          ...(template.command === null ? {} : { command: template.command }),
          ...(template.ready_pattern === null ? {} : { ready_pattern: template.ready_pattern }),
          ...(template.install_command === null ? {} : { install_command: template.install_command }),
        };
        await entitlements.assertMayRun(me.userId);
        const max = await entitlements.maxInstances(me.userId, 'game');
        const instance = await instances.create({ ownerId: me.userId, kind: 'game', plugin: 'game', name: body.name, spec: { ...spec } }, { maxForOwner: max });
        return { status: 202, body: { server: toServer(instance) } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/servers/:id',
      summary: 'One game server with its cached state (never waits on the agent)',
      tags: ['game'],
      auth: 'user',
      request: { params: serverIdParams },
      responses: { 200: z.object({ server: serverSchema }) },
      examples: { responses: { 200: { server: exampleServer } } },
      handler: async ({ params, principal }) => ({ body: { server: toServer(await visibleServer(instances, params.id, principal)) } }),
    }),
    defineRoute({
      method: 'delete',
      path: '/servers/:id',
      summary: 'Deletes a game server: it answers in `deleting`, its agent is released, then the server and all its backups (locked or not) are gone',
      tags: ['game'],
      auth: 'user',
      request: { params: serverIdParams },
      responses: { 202: z.object({ server: serverSchema }) },
      examples: { responses: { 202: { server: { ...exampleServer, state: { ...exampleServer.state, lifecycle: 'deleting' } } } } },
      handler: async ({ params, principal }) => {
        const before = toServer(await visibleServer(instances, params.id, principal));
        await instances.remove(params.id);
        onDeleted(params.id);
        return { status: 202, body: { server: { ...before, state: { ...before.state, lifecycle: 'deleting' as const } } } };
      },
    }),
  ];
}
