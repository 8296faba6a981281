import { z } from 'zod';
import { defineRoute, type Events, type PluginContext, type RouteDefinition } from '../../../src/plugin-api/index.ts';
import { agentKeyChanged } from '../events.ts';
import type { V1Api } from '../v1/api.ts';
import { v1Errors } from '../v1/api-errors.ts';
import { agentIdSchema } from '../contract/protocol.ts';
import type { AgentKeys } from './agent-keys.ts';

const base = '/api/v1/admin/agent-keys';

export interface AgentKeyRouteOptions {
  v1: V1Api;
  keys: AgentKeys;
  /** `streamspace.agent_key_changed` closes connections on the old key, on every replica. */
  events: Events;
  audit: PluginContext<unknown>['audit'];
}

export function agentKeyRoutes({ v1, keys, events, audit }: AgentKeyRouteOptions): RouteDefinition[] {
  return [
    v1.route(
      defineRoute({
        method: 'post',
        path: base,
        summary: 'Issue (or rotate) the key an agent connects with (admin)',
        description: 'The key is shown once; only its hash is stored. Issuing again for the same agent_id rotates it: the old key stops working, and a connection opened with it is closed (4401).',
        auth: 'admin',
        request: { body: z.strictObject({ agent_id: agentIdSchema }) },
        responses: { 201: z.object({ agent_id: z.string(), key: z.string(), created_at: z.iso.datetime() }) },
        examples: { body: { agent_id: 'docker-host-01' }, responses: { 201: { agent_id: 'docker-host-01', key: 'ssak_3q2...', created_at: '2025-11-22T10:00:00Z' } } },
        handler: async (req) => {
          const actor = req.principal.userId;
          const issued = await keys.issue(req.body.agent_id, actor);
          await audit.record({ action: 'streamspace.agent_key_issued', actorUserId: actor, ip: req.ip, requestId: req.requestId, details: { agent_id: req.body.agent_id } });
          // A rotation: connections still on the old key are closed wherever they are.
          await events.publish(agentKeyChanged, null, { agent_id: req.body.agent_id });
          return { status: 201, body: issued };
        },
      }),
    ),
    v1.route(
      defineRoute({
        method: 'delete',
        path: `${base}/:agent_id`,
        summary: "Revoke an agent's key and close its connection (admin)",
        auth: 'admin',
        request: { params: z.object({ agent_id: agentIdSchema }) },
        responses: { 204: null },
        examples: { params: { agent_id: 'docker-host-01' } },
        errors: { 404: 'AGENT_NOT_FOUND (no key for this agent_id)' },
        handler: async (req) => {
          if (!(await keys.revoke(req.params.agent_id))) throw v1Errors.agentNotFound(req.params.agent_id);
          await audit.record({ action: 'streamspace.agent_key_revoked', actorUserId: req.principal?.userId ?? null, ip: req.ip, requestId: req.requestId, details: { agent_id: req.params.agent_id } });
          await events.publish(agentKeyChanged, null, { agent_id: req.params.agent_id });
          return { status: 204 };
        },
      }),
    ),
  ];
}
