import { z } from 'zod';
import type { Knex } from 'knex';
import { defineRoute, type RouteDefinition } from '../http/route.ts';
import { ConflictError, NotFoundError } from '../http/errors.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import type { AgentClient } from '../agent/agent-client.ts';
import { assertAgentReady } from '../agent/readiness.ts';

const agentSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    base_url: z.string(),
    kind: z.string(),
    instance_id: z.uuid().nullable(),
    needs_wipe: z.boolean().describe('Released by an instance: still holds its data until an admin wipes it and marks it ready for reuse'),
    created_at: z.iso.datetime(),
  })
  .meta({ id: 'PoolAgent' });

/** For the OpenAPI document. */
const exampleAgent = {
  id: '3b6f1d2e-7a4c-4e8b-9f0a-1c2d3e4f5a6b',
  name: 'agent-7',
  base_url: 'https://10.0.0.7:8443',
  kind: 'game',
  instance_id: null,
  needs_wipe: false,
  created_at: '2026-11-20T08:00:00.000Z',
};

interface PoolRow {
  id: string;
  name: string;
  base_url: string;
  kind: string;
  instance_id: string | null;
  needs_wipe: boolean;
  created_at: Date;
}

const present = (r: PoolRow) => ({
  id: r.id,
  name: r.name,
  base_url: r.base_url,
  kind: r.kind,
  instance_id: r.instance_id,
  needs_wipe: r.needs_wipe,
  created_at: new Date(r.created_at).toISOString(),
});
const tags = ['admin'];

/** The static provisioner's pool: agents admins register by URL and token. */
export function agentPoolRoutes(db: Knex, box: SecretBox, client: AgentClient): RouteDefinition[] {
  return [
    defineRoute({
      method: 'get',
      path: '/api/admin/agents',
      summary: 'List registered agents (the static pool)',
      tags,
      auth: 'admin',
      responses: { 200: z.object({ agents: z.array(agentSchema) }) },
      examples: { responses: { 200: { agents: [exampleAgent] } } },
      handler: async () => ({
        body: { agents: (await db('agent_pool').orderBy('created_at').select<PoolRow[]>('id', 'name', 'base_url', 'kind', 'instance_id', 'needs_wipe', 'created_at')).map(present) },
      }),
    }),
    defineRoute({
      method: 'post',
      path: '/api/admin/agents',
      summary: 'Register an agent; it must answer /health and be semantically ready first',
      tags,
      auth: 'admin',
      request: {
        body: z.strictObject({
          name: z.string().min(1).max(100),
          base_url: z.url({ protocol: /^https?$/ }).max(500),
          token: z.string().min(16).max(500),
          kind: z.enum(['game', 'dev', 'any']).default('any'),
        }),
      },
      responses: { 201: z.object({ agent: agentSchema }) },
      examples: { responses: { 201: { agent: exampleAgent } } },
      errors: {
        502: 'The agent answered something outside the contract (AGENT_BAD_RESPONSE)',
        503: 'The agent is up but not semantically ready (AGENT_NOT_READY)',
        504: 'The agent cannot be reached (AGENT_UNREACHABLE) or did not answer in time (AGENT_TIMEOUT)',
        409: 'An agent with this URL is already registered (AGENT_EXISTS)',
      },
      handler: async ({ body, requestId }) => {
        const target = { baseUrl: body.base_url.replace(/\/$/, ''), token: body.token };
        await client.call(target, 'health', { requestId, kind: 'action' });
        await assertAgentReady(client, target, { requestId, kind: 'action' });
        try {
          const [row] = await db('agent_pool')
            .insert({ name: body.name, base_url: target.baseUrl, token_encrypted: box.seal(body.token), kind: body.kind })
            .returning<PoolRow[]>('*');
          return { status: 201, body: { agent: present(row as PoolRow) } };
        } catch (err) {
          if ((err as { code?: string }).code === '23505') throw new ConflictError('AGENT_EXISTS', 'An agent with this URL is already registered');
          throw err;
        }
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/admin/agents/:id/ready-for-reuse',
      summary: "After wiping a released agent's data, put it back in the pool (it must be healthy and ready)",
      tags,
      auth: 'admin',
      request: { params: z.object({ id: z.uuid() }) },
      responses: { 200: z.object({ agent: agentSchema }) },
      examples: { responses: { 200: { agent: exampleAgent } } },
      errors: {
        502: 'The agent answered something outside the contract (AGENT_BAD_RESPONSE)',
        503: 'The agent is up but not semantically ready (AGENT_NOT_READY)',
        504: 'The agent cannot be reached (AGENT_UNREACHABLE) or did not answer in time (AGENT_TIMEOUT)',
        409: 'An instance uses this agent (AGENT_IN_USE)',
      },
      handler: async ({ params, requestId }) => {
        const row = await db('agent_pool').where({ id: params.id }).first<(PoolRow & { token_encrypted: string }) | undefined>();
        if (!row) throw new NotFoundError('agent', params.id);
        if (row.instance_id) throw new ConflictError('AGENT_IN_USE', `Instance ${row.instance_id} uses this agent`);
        const target = { baseUrl: row.base_url, token: box.open(row.token_encrypted) };
        await client.call(target, 'health', { requestId, kind: 'action' });
        await assertAgentReady(client, target, { requestId, kind: 'action' });
        const [updated] = await db('agent_pool').where({ id: params.id }).whereNull('instance_id').update({ needs_wipe: false }).returning<PoolRow[]>('*');
        if (!updated) throw new ConflictError('AGENT_IN_USE', 'The agent was taken meanwhile');
        return { body: { agent: present(updated) } };
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/api/admin/agents/:id',
      summary: 'Unregister a free agent',
      tags,
      auth: 'admin',
      request: { params: z.object({ id: z.uuid() }) },
      responses: { 204: null },
      examples: { params: { id: exampleAgent.id } },
      errors: { 409: 'An instance uses this agent; delete it first (AGENT_IN_USE)' },
      handler: async ({ params }) => {
        const row = await db('agent_pool').where({ id: params.id }).first<PoolRow | undefined>();
        if (!row) throw new NotFoundError('agent', params.id);
        if (row.instance_id) throw new ConflictError('AGENT_IN_USE', `Instance ${row.instance_id} uses this agent; delete it first`);
        await db('agent_pool').where({ id: params.id }).whereNull('instance_id').delete();
        return { status: 204 };
      },
    }),
  ];
}
