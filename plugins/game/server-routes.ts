import { z } from 'zod';
import { defineRoute, instanceCrudRoutes, type Entitlements, type Instances, type RouteDefinition } from '../../src/plugin-api/index.ts';
import type { GameConfig } from './config.ts';
import { serverIdParams, serverSchema, toServer, type GameSpec } from './game-server.ts';
import { exampleServer } from './examples.ts';

const templateSchema = z.object({
  id: z.string(),
  display_name: z.string(),
  resources: serverSchema.shape.resources,
  backup_limit: z.number().int(),
});

/** Templates, then servers: list, create, read, delete. Everything on another user's server is a 404. */
export function serverRoutes(config: GameConfig, instances: Instances, entitlements: Entitlements, onDeleted: (serverId: string) => void): RouteDefinition[] {
  return [
    defineRoute({
      method: 'get',
      path: '/templates',
      summary: 'Server templates a user may pick when creating a server',
      tags: ['game'],
      auth: 'user',
      responses: { 200: z.object({ templates: z.array(templateSchema), default_template: z.string() }) },
      examples: { responses: { 200: { templates: [{ id: 'small', display_name: 'Small (1 core, 1 GB)', resources: exampleServer.resources, backup_limit: 5 }], default_template: 'small' } } },
      handler: async () => ({
        body: {
          templates: Object.entries(config.templates).map(([id, t]) => ({ id, display_name: t.display_name, resources: t.resources, backup_limit: t.backup_limit })),
          default_template: config.default_template,
        },
      }),
    }),
    ...instanceCrudRoutes(
      {
        plugin: 'game',
        kind: 'game',
        noun: 'server',
        keys: { one: 'server', many: 'servers' },
        base: '/servers',
        tag: 'game',
        schema: serverSchema,
        idParams: serverIdParams,
        docs: {
          list: "The caller's game servers with their cached state (admins: everyone's, or one user's with ?user_id=)",
          create: 'Creates a game server; it answers in `provisioning` and becomes `active` once its agent is semantically ready',
          createDescription:
            'Watch `instance.state` on /api/events (or poll GET) for the change. A server that is not ready before the provisioning deadline becomes `failed` with `lifecycle_reason`.',
          read: 'One game server with its cached state (never waits on the agent)',
          delete: 'Deletes a game server: it answers in `deleting`, its agent is released, then the server and all its backups (locked or not) are gone',
          userFilter: "admins: only this user's servers",
          lifecycleFilter: 'only servers in this lifecycle',
          statusFilter: 'only servers whose agent last reported this status',
          templateField: 'template id from GET /api/game/templates; default: the configured default',
          listErrors: { 403: "A non-admin asked for another user's servers (AUTH_INSUFFICIENT_PERMISSIONS)" },
          createErrors: {
            400: 'Invalid name, or an unknown template (TEMPLATE_UNKNOWN, details.available lists the ids)',
            402: 'The plan allows no more game servers (PLAN_LIMIT_REACHED, details.limit and details.used), or a payment is overdue (BILLING_PAST_DUE)',
          },
        },
        examples: { item: exampleServer, createBody: { name: 'Friday survival', template: 'sample' }, createdState: { ready: false, status: 'unknown', reachable: false } },
        templates: { templates: config.templates, defaultTemplate: config.default_template, listedAt: '/api/game/templates' },
        specOf: (templateId, template): GameSpec & Record<string, unknown> => ({
          template: templateId,
          backup_limit: template.backup_limit,
          resources: template.resources,
          ...(template.command === null ? {} : { command: template.command }),
          ...(template.ready_pattern === null ? {} : { ready_pattern: template.ready_pattern }),
          ...(template.install_command === null ? {} : { install_command: template.install_command }),
        }),
        present: async (items) => items.map(toServer),
        onDeleted,
      },
      instances,
      entitlements,
    ),
  ];
}
