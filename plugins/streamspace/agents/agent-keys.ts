import type { Knex } from 'knex';
import { z } from 'zod';
import { defineRoute, hashToken, newOpaqueToken, type EventBus, type PluginContext, type RouteDefinition } from '../../../src/plugin-api/index.ts';
import type { V1Api } from '../v1/api.ts';
import { v1Errors } from '../v1/api-errors.ts';
import { agentIdSchema } from '../contract/protocol.ts';

/** Per-agent keys (addendum "Agent credentials"): shown once, stored as SHA-256 hashes, rotated by issuing again. */
export class AgentKeys {
  constructor(private readonly db: Knex) {}

  async issue(agentId: string, createdBy: string): Promise<{ agent_id: string; key: string; created_at: string }> {
    const key = `ssak_${newOpaqueToken()}`;
    const [row] = await this.db('streamspace_agent_keys')
      .insert({ agent_id: agentId, key_hash: hashToken(key), created_by: createdBy })
      .onConflict('agent_id')
      .merge({ key_hash: hashToken(key), created_by: createdBy, created_at: this.db.fn.now() })
      .returning<Array<{ created_at: Date }>>('created_at');
    return { agent_id: agentId, key, created_at: new Date((row as { created_at: Date }).created_at).toISOString() };
  }

  /** Whether `key` is the current key of `agentId` (a key of another agent does not open this one). */
  async verify(agentId: string, key: string): Promise<boolean> {
    return this.isCurrent(agentId, hashToken(key));
  }

  async isCurrent(agentId: string, keyHash: string): Promise<boolean> {
    const row = await this.db('streamspace_agent_keys').where({ agent_id: agentId, key_hash: keyHash }).first('agent_id');
    return row !== undefined;
  }

  async revoke(agentId: string): Promise<boolean> {
    // `returning` rather than the affected-row count, which the embedded driver does not report for DELETE.
    const gone = await this.db('streamspace_agent_keys').where({ agent_id: agentId }).delete().returning('agent_id');
    return gone.length > 0;
  }
}

const base = '/api/v1/admin/agent-keys';

export function agentKeyRoutes(v1: V1Api, keys: AgentKeys, events: EventBus, audit: PluginContext<unknown>['audit']): RouteDefinition[] {
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
          const actor = (req.principal as NonNullable<typeof req.principal>).userId;
          const issued = await keys.issue(req.body.agent_id, actor);
          await audit.record({ action: 'streamspace.agent_key_issued', actorUserId: actor, ip: req.ip, requestId: req.requestId, details: { agent_id: req.body.agent_id } });
          // A rotation: connections still on the old key are closed wherever they are.
          await events.publish('streamspace.agent_key_changed', null, { agent_id: req.body.agent_id });
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
        errors: { 404: 'AGENT_NOT_FOUND (no key for this agent_id)' },
        handler: async (req) => {
          if (!(await keys.revoke(req.params.agent_id))) throw v1Errors.agentNotFound(req.params.agent_id);
          await audit.record({ action: 'streamspace.agent_key_revoked', actorUserId: req.principal?.userId ?? null, ip: req.ip, requestId: req.requestId, details: { agent_id: req.params.agent_id } });
          await events.publish('streamspace.agent_key_changed', null, { agent_id: req.params.agent_id });
          return { status: 204 };
        },
      }),
    ),
  ];
}
