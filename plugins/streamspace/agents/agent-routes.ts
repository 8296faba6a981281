import { z } from 'zod';
import { defineRoute, paginationOf, paginationSchema, type RouteDefinition } from '../../../src/plugin-api/index.ts';
import type { V1Api } from '../v1/api.ts';
import { v1Errors } from '../v1/api-errors.ts';
import { agentView, statusOf, type AgentStore } from './agent-store.ts';
import { pageQuery } from '../v1/pages.ts';
import { agentIdSchema } from '../contract/protocol.ts';
import { sessionStates } from '../sessions/session-machine.ts';
import type { SessionStore } from '../sessions/session-store.ts';

const base = '/api/v1/agents';
const statusSchema = z.enum(['online', 'offline', 'draining']);

export const agentSchema = z
  .object({
    id: z.uuid(),
    agent_id: z.string(),
    platform: z.string(),
    region: z.string().nullable(),
    status: statusSchema,
    capacity: z.looseObject({ max_sessions: z.number(), current_sessions: z.number() }),
    metadata: z.record(z.string(), z.unknown()),
    websocket_conn_id: z.string().nullable(),
    last_heartbeat: z.iso.datetime().nullable(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .meta({ id: 'StreamspaceAgent' });

const exampleAgent = {
  id: '660e8400-e29b-41d4-a716-446655440001',
  agent_id: 'docker-host-01',
  platform: 'docker',
  region: 'us-east-1',
  status: 'online',
  capacity: { max_sessions: 50, current_sessions: 5 },
  metadata: { docker_version: '24.0.7', agent_version: 'v2.0-beta.1' },
  websocket_conn_id: 'conn-def456',
  last_heartbeat: '2025-11-22T10:35:02Z',
  created_at: '2025-11-15T10:00:00Z',
  updated_at: '2025-11-22T10:35:02Z',
};

const params = z.object({ agent_id: agentIdSchema });

/** Seed "Agent Management"; every route is admin only (addendum). */
export function agentRoutes(v1: V1Api, agents: AgentStore, sessions: SessionStore): RouteDefinition[] {
  return [
    v1.route(
      defineRoute({
        method: 'get',
        path: base,
        summary: 'List agents (admin)',
        auth: 'admin',
        request: { query: pageQuery(20).extend({ platform: z.string().min(1).max(64).optional(), status: statusSchema.optional(), region: z.string().min(1).max(64).optional() }) },
        responses: { 200: z.object({ agents: z.array(agentSchema), pagination: paginationSchema }) },
        examples: { responses: { 200: { agents: [exampleAgent], pagination: { page: 1, limit: 20, total: 1, total_pages: 1 } } } },
        handler: async (req) => {
          const { rows, total } = await agents.list({ platform: req.query.platform, status: req.query.status, region: req.query.region }, req.query.page, req.query.limit);
          return { body: { agents: rows.map(agentView), pagination: paginationOf(req.query.page, req.query.limit, total) } };
        },
      }),
    ),
    // Before `/:agent_id`, which would otherwise take "stats" as an id.
    v1.route(
      defineRoute({
        method: 'get',
        path: `${base}/stats`,
        summary: 'Agent statistics (admin)',
        description: 'Capacity totals count online and draining agents, not offline ones.',
        auth: 'admin',
        responses: {
          200: z.object({
            total_agents: z.number().int(),
            online_agents: z.number().int(),
            offline_agents: z.number().int(),
            draining_agents: z.number().int(),
            by_platform: z.record(z.string(), z.number().int()),
            total_capacity: z.object({ max_sessions: z.number().int(), current_sessions: z.number().int() }),
            utilization: z.object({ percentage: z.number(), sessions_available: z.number().int() }),
          }),
        },
        examples: {
          responses: {
            200: {
              total_agents: 3,
              online_agents: 2,
              offline_agents: 1,
              draining_agents: 0,
              by_platform: { docker: 2, kubernetes: 1 },
              total_capacity: { max_sessions: 100, current_sessions: 5 },
              utilization: { percentage: 5, sessions_available: 95 },
            },
          },
        },
        handler: async () => {
          const all = await agents.all();
          const count = (s: string) => all.filter((a) => statusOf(a) === s).length;
          const byPlatform: Record<string, number> = {};
          for (const a of all) byPlatform[a.platform] = (byPlatform[a.platform] ?? 0) + 1;
          const live = all.filter((a) => a.connected);
          const max = live.reduce((n, a) => n + (a.capacity.max_sessions ?? 0), 0);
          const current = live.reduce((n, a) => n + (a.capacity.current_sessions ?? 0), 0);
          return {
            body: {
              total_agents: all.length,
              online_agents: count('online'),
              offline_agents: count('offline'),
              draining_agents: count('draining'),
              by_platform: byPlatform,
              total_capacity: { max_sessions: max, current_sessions: current },
              utilization: { percentage: max === 0 ? 0 : Math.round((current / max) * 1000) / 10, sessions_available: Math.max(0, max - current) },
            },
          };
        },
      }),
    ),
    v1.route(
      defineRoute({
        method: 'get',
        path: `${base}/:agent_id`,
        summary: 'Get an agent with its sessions (admin)',
        auth: 'admin',
        request: { params },
        responses: {
          200: agentSchema.extend({
            uptime_seconds: z.number().int().nullable(),
            sessions: z.array(z.object({ id: z.uuid(), name: z.string(), user: z.string(), template: z.string(), state: z.enum(sessionStates) })),
          }),
        },
        errors: { 404: 'AGENT_NOT_FOUND' },
        examples: {
          responses: {
            200: {
              ...exampleAgent,
              uptime_seconds: 86_400,
              sessions: [{ id: '770e8400-e29b-41d4-a716-446655440002', name: 'john-doe-firefox-browser-abc123', user: 'john.doe', template: 'firefox-browser', state: 'running' }],
            },
          },
        },
        handler: async (req) => {
          const row = await agents.get(req.params.agent_id);
          if (!row) throw v1Errors.agentNotFound(req.params.agent_id);
          const uptime = row.connected && row.connected_at ? Math.floor((Date.now() - new Date(row.connected_at).getTime()) / 1000) : null;
          return { body: { ...agentView(row), uptime_seconds: uptime, sessions: await sessions.onAgent(row.agent_id) } };
        },
      }),
    ),
    v1.route(
      defineRoute({
        method: 'patch',
        path: `${base}/:agent_id`,
        summary: 'Drain an agent, or put it back online (admin)',
        description:
          '`draining` stops new sessions from being placed there (existing ones continue) and survives heartbeats and reconnects. `offline` is set by the control plane alone and is refused (400).',
        auth: 'admin',
        request: { params, body: z.strictObject({ status: statusSchema }) },
        responses: { 200: z.object({ id: z.uuid(), agent_id: z.string(), status: statusSchema, updated_at: z.iso.datetime() }) },
        errors: { 404: 'AGENT_NOT_FOUND' },
        examples: { body: { status: 'draining' }, responses: { 200: { id: exampleAgent.id, agent_id: 'docker-host-01', status: 'draining', updated_at: '2025-11-22T10:40:00Z' } } },
        handler: async (req) => {
          if (req.body.status === 'offline') throw v1Errors.offlineStatusReserved();
          const row = await agents.setDraining(req.params.agent_id, req.body.status === 'draining');
          if (!row) throw v1Errors.agentNotFound(req.params.agent_id);
          const view = agentView(row);
          return { body: { id: view.id, agent_id: view.agent_id, status: view.status, updated_at: view.updated_at } };
        },
      }),
    ),
  ];
}
