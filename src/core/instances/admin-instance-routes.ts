import { z } from 'zod';
import { defineRoute, type RouteDefinition } from '../http/route.ts';
import { paginationOf, paginationQuery, paginationSchema } from '../http/pagination.ts';
import { instanceStateSchema, lifecycleSchema } from './instance-state.ts';
import type { InstanceService } from './instance-service.ts';

const instanceSchema = z
  .object({
    id: z.uuid(),
    owner_id: z.uuid(),
    kind: z.string(),
    plugin: z.string(),
    name: z.string(),
    lifecycle_reason: z.string().nullable(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
    state: instanceStateSchema,
  })
  .meta({ id: 'AdminInstance' });

/** Operators' view of every instance of every plugin, with its normalized state from the cache. */
export function adminInstanceRoutes(instances: InstanceService): RouteDefinition[] {
  return [
    defineRoute({
      method: 'get',
      path: '/api/admin/instances',
      summary: 'List instances of all plugins with their normalized state',
      tags: ['admin'],
      auth: 'admin',
      request: { query: paginationQuery.extend({ plugin: z.string().max(32).optional(), lifecycle: lifecycleSchema.optional(), user_id: z.uuid().optional() }) },
      responses: { 200: z.object({ instances: z.array(instanceSchema), pagination: paginationSchema }) },
      examples: {
        responses: {
          200: {
            instances: [
              {
                id: '0b9f3c1e-5d7a-4d6e-9f52-2a3f7c1b8e40',
                owner_id: '6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21',
                kind: 'game',
                plugin: 'game',
                name: 'Friday survival',
                lifecycle_reason: null,
                created_at: '2026-11-20T08:00:00.000Z',
                updated_at: '2026-11-23T09:00:00.000Z',
                state: {
                  lifecycle: 'active',
                  reachable: true,
                  ready: true,
                  status: 'running',
                  last_seen_at: '2026-11-23T09:15:02.000Z',
                  checked_at: '2026-11-23T09:15:02.000Z',
                  stale: false,
                  error: null,
                  details: {},
                },
              },
            ],
            pagination: { page: 1, limit: 20, total: 1, total_pages: 1 },
          },
        },
      },
      handler: async ({ query }) => {
        const { items, total } = await instances.list({ plugin: query.plugin, ownerId: query.user_id, lifecycle: query.lifecycle, page: query.page, limit: query.limit });
        return {
          body: {
            instances: items.map((i) => ({
              id: i.id,
              owner_id: i.ownerId,
              kind: i.kind,
              plugin: i.plugin,
              name: i.name,
              lifecycle_reason: i.lifecycleReason,
              created_at: i.createdAt,
              updated_at: i.updatedAt,
              state: i.state,
            })),
            pagination: paginationOf(query.page, query.limit, total),
          },
        };
      },
    }),
  ];
}
