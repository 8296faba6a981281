import type { Knex } from 'knex';
import { z } from 'zod';
import type { Entitlements } from '../billing/entitlements.ts';
import { ForbiddenError } from '../http/errors.ts';
import { paginationOf, paginationQuery, paginationSchema } from '../http/pagination.ts';
import type { Principal } from '../http/principal.ts';
import { defineRoute, type RouteDefinition } from '../http/route.ts';
import { visibleInstance } from './instance-access.ts';
import { chosenTemplate, createRequestSchema, type TemplateChoice } from './instance-create-request.ts';
import type { Instance } from './instance-records.ts';
import type { Instances } from '../../plugin-api/instances.ts';
import { agentStatusSchema, lifecycleSchema, type InstanceState } from './instance-state.ts';

/** Words of the OpenAPI document that differ per plugin; everything else the routes say is shared. */
export interface InstanceCrudDocs {
  list: string;
  create: string;
  createDescription?: string;
  read: string;
  delete: string;
  /** `?user_id=`'s description. */
  userFilter: string;
  /** `?lifecycle=`'s description, if it has one. */
  lifecycleFilter?: string;
  /** Offers `?status=` (the agent's last reported status) with this description. */
  statusFilter?: string;
  /** The create body's `template` description, if it has one. */
  templateField?: string;
  listErrors?: Record<number, string>;
  createErrors: Record<number, string>;
}

export interface InstanceCrud<View extends { state: InstanceState }, Template, Created = undefined> {
  plugin: string;
  /** The instance kind, also the plan limit's kind. */
  kind: string;
  /** What one is called in a 404 ('server', 'dev container'). */
  noun: string;
  /** Body keys: `{ [one]: View }` for one, `{ [many]: View[], pagination }` for the list. */
  keys: { one: string; many: string };
  /** Path of the list and create routes; `${base}/:id` reads and deletes one. */
  base: string;
  tag: string;
  schema: z.ZodType<View>;
  idParams: z.ZodObject<{ id: z.ZodType<string> }>;
  docs: InstanceCrudDocs;
  /** For the OpenAPI document: one instance as shown (created and deleted examples are derived from it) and a create body. */
  examples: { item: Example; createBody: unknown; createdState?: Partial<InstanceState> };
  templates: TemplateChoice<Template>;
  /** The spec stored at creation, from the chosen template (a later template edit does not change it). */
  specOf(templateId: string, template: Template): Record<string, unknown>;
  /** Instances as the plugin shows them, in order. */
  present(items: Instance[]): Promise<View[]>;
  /** The plugin's own rows, committed with the instance or not at all; what it returns reaches `presentCreated`. */
  withinTransaction?: (trx: Knex.Transaction, instanceId: string) => Promise<Created>;
  presentCreated?: (instance: Instance, created: Created) => View;
  /** After the instance is marked `deleting` (close its sockets, end its sessions). */
  onDeleted(instanceId: string): void | Promise<void>;
}

type Example = Record<string, unknown> & { state: object };

interface ListQuery {
  page: number;
  limit: number;
  lifecycle?: InstanceState['lifecycle'];
  status?: InstanceState['status'];
  user_id?: string;
}

const withDescription = <S extends z.ZodType>(schema: S, description: string | undefined): S => (description === undefined ? schema : schema.describe(description));

/** A plugin's instances: list, create, read, delete. Another user's instance is a 404, never a 403. */
export function instanceCrudRoutes<View extends { state: InstanceState }, Template, Created = undefined>(
  crud: InstanceCrud<View, Template, Created>,
  instances: Instances,
  entitlements: Entitlements,
): RouteDefinition[] {
  const { docs, keys } = crud;
  const item = crud.examples.item;
  const one = z.object({ [keys.one]: crud.schema });
  const withLifecycle = (view: Example, lifecycle: InstanceState['lifecycle'], extra: Partial<InstanceState> = {}) => ({ ...view, state: { ...view.state, lifecycle, ...extra } });
  /** One instance as the plugin shows it, if the caller may see it. */
  const shown = async (id: string, principal: Principal | null): Promise<View> => (await crud.present([await visibleInstance(instances, id, principal, crud.plugin, crud.noun)]))[0] as View;
  const route = { tags: [crud.tag], auth: 'user' as const };
  const byId = { path: `${crud.base}/:id`, ...route, request: { params: crud.idParams } };
  return [
    defineRoute({
      method: 'get',
      path: crud.base,
      summary: docs.list,
      ...route,
      request: {
        query: paginationQuery.extend({
          lifecycle: withDescription(lifecycleSchema.optional(), docs.lifecycleFilter),
          ...(docs.statusFilter === undefined ? {} : { status: agentStatusSchema.optional().describe(docs.statusFilter) }),
          user_id: z.uuid().optional().describe(docs.userFilter),
        }),
      },
      responses: { 200: z.object({ [keys.many]: z.array(crud.schema), pagination: paginationSchema }) },
      ...(docs.listErrors === undefined ? {} : { errors: docs.listErrors }),
      examples: { responses: { 200: { [keys.many]: [item], pagination: { page: 1, limit: 20, total: 1, total_pages: 1 } } } },
      handler: async ({ query, principal }) => {
        const q = query as ListQuery;
        const me = principal;
        if (q.user_id !== undefined && me.role !== 'admin' && q.user_id !== me.userId) throw new ForbiddenError();
        const ownerId = me.role === 'admin' ? q.user_id : me.userId;
        const { items, total } = await instances.list({ plugin: crud.plugin, ownerId, lifecycle: q.lifecycle, status: q.status, page: q.page, limit: q.limit });
        return { body: { [keys.many]: await crud.present(items), pagination: paginationOf(q.page, q.limit, total) } };
      },
    }),
    defineRoute({
      method: 'post',
      path: crud.base,
      summary: docs.create,
      ...(docs.createDescription === undefined ? {} : { description: docs.createDescription }),
      ...route,
      request: { body: createRequestSchema(docs.templateField) },
      responses: { 202: one },
      errors: docs.createErrors,
      examples: { body: crud.examples.createBody, responses: { 202: { [keys.one]: withLifecycle(item, 'provisioning', crud.examples.createdState) } } },
      handler: async ({ body, principal }) => {
        const me = principal;
        const { id: templateId, template } = chosenTemplate(crud.templates, body.template);
        const spec = crud.specOf(templateId, template);
        await entitlements.assertMayRun(me.userId);
        const maxForOwner = await entitlements.maxInstances(me.userId, crud.kind);
        const hook = crud.withinTransaction;
        let created: Created | undefined;
        const instance = await instances.create(
          { ownerId: me.userId, kind: crud.kind, plugin: crud.plugin, name: body.name, spec },
          hook === undefined ? { maxForOwner } : { maxForOwner, withinTransaction: async (trx, id) => void (created = await hook(trx, id)) },
        );
        const view = crud.presentCreated ? crud.presentCreated(instance, created as Created) : (await crud.present([instance]))[0];
        return { status: 202, body: { [keys.one]: view } };
      },
    }),
    defineRoute({
      method: 'get',
      summary: docs.read,
      ...byId,
      responses: { 200: one },
      examples: { responses: { 200: { [keys.one]: item } } },
      handler: async ({ params, principal }) => ({ body: { [keys.one]: await shown(params.id, principal) } }),
    }),
    defineRoute({
      method: 'delete',
      summary: docs.delete,
      ...byId,
      responses: { 202: one },
      examples: { responses: { 202: { [keys.one]: withLifecycle(item, 'deleting') } } },
      handler: async ({ params, principal }) => {
        const before = await shown(params.id, principal);
        await instances.remove(params.id);
        await crud.onDeleted(params.id);
        return { status: 202, body: { [keys.one]: withLifecycle(before, 'deleting') } };
      },
    }),
  ];
}
