import { z } from 'zod';
import { defineRoute, withAgentLifecycles, type Agents, type Entitlements, type Instances, type RouteDefinition } from '../../src/plugin-api/index.ts';
import { requireLifecycle, serverIdParams, visibleServer } from './game-server.ts';
import { agentErrors } from './examples.ts';

const actions = ['start', 'stop', 'restart'] as const;
const notActive = 'The server is not `active` (INSTANCE_NOT_ACTIVE, details.lifecycle); or the agent refused (AGENT_ERROR, e.g. already running), its body in details.agent_body';

/** Power actions and the console's HTTP side, forwarded to the agent through the agentClient. */
export function powerRoutes(instances: Instances, agents: Agents, entitlements: Entitlements): RouteDefinition[] {
  const power = actions.map((action) =>
    defineRoute({
      method: 'post',
      path: `/servers/:id/${action}`,
      summary: `${action[0]?.toUpperCase()}${action.slice(1)}s the server's workload (forwarded to the agent as POST /${action})`,
      description:
        "Answers 202 with the status the agent now expects, once the server's state shows it (a GET right after sees `starting` or `stopping`, not the old status); `instance.state` events follow as it moves on.",
      tags: ['game'],
      auth: 'user',
      request: { params: serverIdParams },
      responses: { 202: z.object({ server_id: z.uuid(), action: z.enum(actions), status: z.string().describe('what the agent expects next: starting, stopping') }) },
      errors: { 402: "The owner's payment is overdue beyond the grace period (BILLING_PAST_DUE); not for stop", 409: notActive, ...agentErrors },
      examples: { responses: { 202: { server_id: '0b9f3c1e-5d7a-4d6e-9f52-2a3f7c1b8e40', action, status: action === 'stop' ? 'stopping' : 'starting' } } },
      handler: async ({ params, principal, requestId }) => {
        const server = await visibleServer(instances, params.id, principal);
        requireLifecycle(server);
        // An overdue payment stops starts (the owner's account; admins act for anyone).
        if (action !== 'stop' && principal?.role !== 'admin') await entitlements.assertMayRun(server.ownerId);
        const answer = await agents.call(await instances.target(params.id), action, { requestId });
        await instances.confirmAction(params.id);
        return { status: 202, body: { server_id: params.id, action, status: answer.state } };
      },
    }),
  );
  return [
    ...power,
    defineRoute({
      method: 'post',
      path: '/servers/:id/console/command',
      summary: 'Sends one command to the server console (forwarded to the agent as POST /console/command)',
      tags: ['game'],
      auth: 'user',
      request: {
        params: serverIdParams,
        body: z.strictObject({
          command: z
            .string()
            .min(1)
            .max(4096)
            .refine((c) => !c.includes('\0'), 'must not contain NUL')
            .describe('1..4096 characters, no NUL'),
        }),
      },
      responses: { 202: z.object({}) },
      errors: { 409: 'The server is not `active` (INSTANCE_NOT_ACTIVE), or its workload is not running (AGENT_ERROR, agent code not_running)', ...agentErrors },
      examples: { body: { command: 'say Restarting in 5 minutes' }, responses: { 202: {} } },
      handler: async ({ params, body, principal, requestId }) => {
        requireLifecycle(await visibleServer(instances, params.id, principal));
        await agents.call(await instances.target(params.id), 'consoleCommand', { requestId, body: { command: body.command } });
        return { status: 202, body: {} };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/servers/:id/console/logs',
      summary: 'The last console lines, newest last (from the agent)',
      tags: ['game'],
      auth: 'user',
      request: {
        params: serverIdParams,
        query: z.object({ lines: z.coerce.number().int().min(1).max(1000).default(150).describe('how many lines, 1..1000 (default 150)') }),
      },
      responses: { 200: z.object({ lines: z.array(z.string()) }) },
      errors: { 409: 'The server has no agent now (INSTANCE_NOT_ACTIVE: provisioning, failed or deleting)', ...agentErrors },
      examples: { responses: { 200: { lines: ['[12:01:40] Server ready', '> say hi', '[12:02:03] [Server] hi'] } } },
      handler: async ({ params, query, principal, requestId }) => {
        requireLifecycle(await visibleServer(instances, params.id, principal), withAgentLifecycles);
        const answer = await agents.call(await instances.target(params.id), 'consoleLogs', { requestId, query: { lines: query.lines } });
        return { body: { lines: answer.lines.slice(-query.lines) } };
      },
    }),
  ];
}
