import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { v1Errors } from '../v1/api-errors.ts';
import type { AgentRow } from '../agents/agent-store.ts';
import type { Commands } from '../agents/commands.ts';
import { durationSeconds } from '../contract/duration.ts';
import type { TemplateRow } from '../templates/template-store.ts';

/** What a caller asks for when creating a session; what it leaves out comes from the template. */
export interface NewSession {
  user?: string;
  template: string;
  name?: string;
  platform?: string;
  region?: string;
  state: 'running' | 'hibernated';
  resources?: { memory?: string; cpu?: string };
  persistent_home?: boolean;
  idle_timeout?: string;
  tags: string[];
}

/** Everything decided before a new session is written: who owns it, from which template, on which agent. */
export interface SessionRecords {
  namespace: string;
  input: NewSession;
  owner: { id: string; username: string };
  template: TemplateRow;
  agent: AgentRow;
}

const isUniqueViolation = (err: unknown): boolean => typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23505';
const slug = (s: string): string =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');

/**
 * Writes a new session's row (pending, on the placed agent) and its start_session command, in
 * the creating transaction, so a session never exists without the command that starts it.
 * Returns the session's id; a name already taken is SESSION_EXISTS.
 */
export async function insertSession(trx: Knex.Transaction, commands: Commands, { namespace, input, owner, template, agent }: SessionRecords): Promise<string> {
  const idleTimeout = input.idle_timeout ?? template.idle_timeout;
  const resources = { ...template.default_resources, ...input.resources };
  const persistentHome = input.persistent_home ?? template.persistent_home;
  const name = input.name ?? `${slug(owner.username)}-${template.name}-${randomBytes(3).toString('hex')}`.slice(0, 63);
  let inserted: Array<{ id: string }>;
  try {
    inserted = await trx('streamspace_sessions')
      .insert({
        name,
        namespace,
        user_id: owner.id,
        template: template.name,
        platform: agent.platform,
        region: agent.region,
        agent_id: agent.agent_id,
        state: 'pending',
        resources: JSON.stringify(resources),
        persistent_home: persistentHome,
        idle_timeout: idleTimeout,
        idle_timeout_s: durationSeconds(idleTimeout) ?? 1800,
        tags: JSON.stringify(input.tags),
        // The template's VNC port until the agent reports the one it opened.
        status: JSON.stringify({ message: 'Session provisioning in progress...', vnc_port: template.vnc.port }),
        platform_metadata: JSON.stringify({ namespace, deployment_name: name, service_name: name, ...(persistentHome ? { pvc_name: `${name}-home` } : {}) }),
      })
      .returning('id');
  } catch (err) {
    if (isUniqueViolation(err)) throw v1Errors.sessionExists(name);
    throw err;
  }
  const id = (inserted[0] as { id: string }).id;
  await commands.add(trx, {
    agentId: agent.agent_id,
    sessionId: id,
    type: 'start_session',
    data: {
      name,
      namespace,
      user: owner.username,
      template: template.name,
      image: template.base_image,
      resources,
      vnc: template.vnc,
      local: template.local,
      persistent_home: persistentHome,
      environment: template.environment,
      state: input.state,
    },
  });
  return id;
}
