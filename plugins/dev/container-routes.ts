import { instanceCrudRoutes, sampleCommands, type Entitlements, type Instance, type Instances, type RouteDefinition } from '../../src/plugin-api/index.ts';
import type { Knex } from 'knex';
import type { DevConfig } from './config.ts';
import { containerIdParams, containerSchema, toContainer, type DevSpec } from './dev-container.ts';
import { allocateVmid, vmidsOf } from './vmids.ts';
import { exampleContainer } from './examples.ts';

/** Dev containers: list, create, read, delete, each with its own vmid. Another user's container is a 404. */
export function containerRoutes(base: string, db: Knex, config: DevConfig, instances: Instances, entitlements: Entitlements, onDeleted: (id: string) => Promise<void>): RouteDefinition[] {
  const withVmids = async (items: Instance[]) => {
    const vmids = await vmidsOf(
      db,
      items.map((i) => i.id),
    );
    return items.map((i) => toContainer(i, vmids.get(i.id) ?? 0));
  };
  return instanceCrudRoutes(
    {
      plugin: 'dev',
      kind: 'dev',
      noun: 'dev container',
      keys: { one: 'container', many: 'containers' },
      base,
      tag: 'dev',
      schema: containerSchema,
      idParams: containerIdParams,
      docs: {
        list: "The caller's dev containers with their cached state (admins: everyone's, or one user's with ?user_id=)",
        create: 'Creates a dev container with its own vmid; it answers in `provisioning` and becomes `active` once its agent is ready',
        createDescription: 'Start the IDE with POST /api/dev/:id/codeserver/start, then open it with POST /api/dev/:id/ide-token.',
        read: "One dev container with its cached state, including the IDE's",
        delete: 'Deletes a dev container: `deleting`, its IDE sessions end at once, its agent is released, then it is gone',
        userFilter: "admins: only this user's containers",
        createErrors: {
          400: 'Invalid name, or an unknown template (TEMPLATE_UNKNOWN)',
          402: 'The plan allows no more dev containers (PLAN_LIMIT_REACHED), or a payment is overdue (BILLING_PAST_DUE)',
          503: 'Every vmid of the configured range is taken (VMID_RANGE_EXHAUSTED)',
        },
      },
      examples: { item: exampleContainer, createBody: { name: 'api-work', template: 'default' } },
      templates: { templates: config.templates, defaultTemplate: config.default_template },
      specOf: (templateId, template): DevSpec & Record<string, unknown> => ({
        template: templateId,
        resources: template.resources,
        command: template.command ?? sampleCommands.devWorkload,
        ide_command: template.ide_command ?? sampleCommands.ide,
        autostart: true,
        ...(template.ready_pattern !== null ? { ready_pattern: template.ready_pattern } : template.command === null ? { ready_pattern: sampleCommands.devReadyPattern } : {}),
      }),
      present: withVmids,
      // The vmid is allocated in the creating transaction, so the answer needs no second read.
      withinTransaction: (trx, id) => allocateVmid(trx, id, config.vmid_min, config.vmid_max),
      presentCreated: (instance, vmid) => toContainer(instance, vmid),
      onDeleted,
    },
    instances,
    entitlements,
  );
}
