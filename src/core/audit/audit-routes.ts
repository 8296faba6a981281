import { z } from 'zod';
import { defineRoute, type RouteDefinition } from '../http/route.ts';
import { paginationOf, paginationQuery, paginationSchema } from '../http/pagination.ts';
import type { AuditLog } from './audit-log.ts';

const entrySchema = z
  .object({
    id: z.number().int(),
    at: z.iso.datetime(),
    action: z.string(),
    actor_user_id: z.uuid().nullable(),
    target_user_id: z.uuid().nullable(),
    ip: z.string().nullable(),
    request_id: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'AuditEntry' });

export function auditRoutes(audit: AuditLog): RouteDefinition[] {
  return [
    defineRoute({
      method: 'get',
      path: '/api/admin/audit',
      summary: 'Read the audit log, newest first',
      tags: ['admin'],
      auth: 'admin',
      request: {
        query: paginationQuery.extend({
          action: z.string().max(64).optional().describe('e.g. auth.login, auth.login_failed, auth.refresh_reused, admin.user_updated'),
          actor_user_id: z.uuid().optional(),
          target_user_id: z.uuid().optional(),
          since: z.iso.datetime().optional().describe('inclusive'),
          until: z.iso.datetime().optional().describe('exclusive'),
        }),
      },
      responses: { 200: z.object({ entries: z.array(entrySchema), pagination: paginationSchema }) },
      examples: {
        responses: {
          200: {
            entries: [
              {
                id: 1042,
                at: '2026-11-23T09:00:00.000Z',
                action: 'auth.login',
                actor_user_id: '6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21',
                target_user_id: '6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21',
                ip: '203.0.113.7',
                request_id: '0f8c3e4a-6b1d-4f2e-9a7c-5d3b2e1f0a9c',
                details: {},
              },
            ],
            pagination: { page: 1, limit: 20, total: 1, total_pages: 1 },
          },
        },
      },
      handler: async ({ query }) => {
        const { rows, total } = await audit.list(
          {
            action: query.action,
            actorUserId: query.actor_user_id,
            targetUserId: query.target_user_id,
            since: query.since ? new Date(query.since) : undefined,
            until: query.until ? new Date(query.until) : undefined,
          },
          query.page,
          query.limit,
        );
        return {
          body: {
            entries: rows.map((r) => ({ ...r, id: Number(r.id), at: new Date(r.at).toISOString(), details: r.details })),
            pagination: paginationOf(query.page, query.limit, total),
          },
        };
      },
    }),
  ];
}
