import { z } from 'zod';
import {
  AppError,
  defineRoute,
  ForbiddenError,
  paginationOf,
  paginationQuery,
  paginationSchema,
  sampleCommands,
  type Entitlements,
  type Instances,
  type Principal,
  type RouteDefinition,
} from '../../src/plugin-api/index.ts';
import type { Knex } from 'knex';
import type { DevConfig } from './config.ts';
import { containerIdParams, containerSchema, toContainer, visibleContainer, type DevSpec } from './dev-container.ts';
import { allocateVmid, vmidsOf } from './vmids.ts';
import { exampleContainer } from './examples.ts';

const containerName = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[\p{L}\p{N}][\p{L}\p{N} _.'#()-]*$/u, 'use letters, digits, spaces and _ . \' # ( ) -, starting with a letter or digit');

/** Dev containers: list, create, read, delete. Another user's container is a 404. */
export function containerRoutes(base: string, db: Knex, config: DevConfig, instances: Instances, entitlements: Entitlements, onDeleted: (id: string) => Promise<void>): RouteDefinition[] {
  const withVmids = async (items: Awaited<ReturnType<Instances['list']>>['items']) => {
    const vmids = await vmidsOf(db, items.map((i) => i.id));
    return items.map((i) => toContainer(i, vmids.get(i.id) ?? 0));
  };
  return [
    defineRoute({
      method: 'get',
      path: base,
      summary: 'The caller\'s dev containers with their cached state (admins: everyone\'s, or one user\'s with ?user_id=)',
      tags: ['dev'],
      auth: 'user',
      request: {
        query: paginationQuery.extend({
          lifecycle: z.enum(['provisioning', 'active', 'failed', 'suspended', 'restoring_backup', 'deleting']).optional(),
          user_id: z.uuid().optional().describe('admins: only this user\'s containers'),
        }),
      },
      responses: { 200: z.object({ containers: z.array(containerSchema), pagination: paginationSchema }) },
      examples: { responses: { 200: { containers: [exampleContainer], pagination: { page: 1, limit: 20, total: 1, total_pages: 1 } } } },
      handler: async ({ query, principal }) => {
        const me = principal as Principal;
        if (query.user_id !== undefined && me.role !== 'admin' && query.user_id !== me.userId) throw new ForbiddenError();
        const { items, total } = await instances.list({ plugin: 'dev', ownerId: me.role === 'admin' ? query.user_id : me.userId, lifecycle: query.lifecycle, page: query.page, limit: query.limit });
        return { body: { containers: await withVmids(items), pagination: paginationOf(query.page, query.limit, total) } };
      },
    }),
    defineRoute({
      method: 'post',
      path: base,
      summary: 'Creates a dev container with its own vmid; it answers in `provisioning` and becomes `active` once its agent is ready',
      description: 'Start the IDE with POST /api/dev/:id/codeserver/start, then open it with POST /api/dev/:id/ide-token.',
      tags: ['dev'],
      auth: 'user',
      request: { body: z.strictObject({ name: containerName, template: z.string().min(1).max(40).optional() }) },
      responses: { 202: z.object({ container: containerSchema }) },
      errors: { 400: 'Invalid name, or an unknown template (TEMPLATE_UNKNOWN)', 402: 'The plan allows no more dev containers (PLAN_LIMIT_REACHED), or a payment is overdue (BILLING_PAST_DUE)', 503: 'Every vmid of the configured range is taken (VMID_RANGE_EXHAUSTED)' },
      examples: { body: { name: 'api-work', template: 'default' }, responses: { 202: { container: { ...exampleContainer, state: { ...exampleContainer.state, lifecycle: 'provisioning' } } } } },
      handler: async ({ body, principal }) => {
        const me = principal as Principal;
        const templateId = body.template ?? config.default_template;
        const template = config.templates[templateId];
        if (!template) throw new AppError(400, 'TEMPLATE_UNKNOWN', 'Unknown template', `There is no template "${templateId}"`, { available: Object.keys(config.templates) });
        const spec: DevSpec = {
          template: templateId,
          resources: template.resources,
          command: template.command ?? sampleCommands.devWorkload,
          ide_command: template.ide_command ?? sampleCommands.ide,
          autostart: true,
          ...(template.ready_pattern !== null ? { ready_pattern: template.ready_pattern } : template.command === null ? { ready_pattern: sampleCommands.devReadyPattern } : {}),
        };
        await entitlements.assertMayRun(me.userId);
        let vmid = 0;
        const instance = await instances.create(
          { ownerId: me.userId, kind: 'dev', plugin: 'dev', name: body.name, spec: { ...spec } },
          {
            maxForOwner: await entitlements.maxInstances(me.userId, 'dev'),
            withinTransaction: async (trx, id) => {
              vmid = await allocateVmid(trx, id, config.vmid_min, config.vmid_max);
            },
          },
        );
        return { status: 202, body: { container: toContainer(instance, vmid) } };
      },
    }),
    defineRoute({
      method: 'get',
      path: `${base}/:id`,
      summary: 'One dev container with its cached state, including the IDE\'s',
      tags: ['dev'],
      auth: 'user',
      request: { params: containerIdParams },
      responses: { 200: z.object({ container: containerSchema }) },
      examples: { responses: { 200: { container: exampleContainer } } },
      handler: async ({ params, principal }) => {
        const instance = await visibleContainer(instances, params.id, principal);
        return { body: { container: (await withVmids([instance]))[0] } };
      },
    }),
    defineRoute({
      method: 'delete',
      path: `${base}/:id`,
      summary: 'Deletes a dev container: `deleting`, its IDE sessions end at once, its agent is released, then it is gone',
      tags: ['dev'],
      auth: 'user',
      request: { params: containerIdParams },
      responses: { 202: z.object({ container: containerSchema }) },
      examples: { responses: { 202: { container: { ...exampleContainer, state: { ...exampleContainer.state, lifecycle: 'deleting' } } } } },
      handler: async ({ params, principal }) => {
        const instance = await visibleContainer(instances, params.id, principal);
        const [before] = await withVmids([instance]);
        await instances.remove(params.id);
        await onDeleted(params.id);
        return { status: 202, body: { container: { ...(before as z.infer<typeof containerSchema>), state: { ...instance.state, lifecycle: 'deleting' as const } } } };
      },
    }),
  ];
}
