import { z } from 'zod';
import { ConflictError, defineRoute, type Agents, type Entitlements, type Instances, type RouteDefinition } from '../../src/plugin-api/index.ts';
import { codeserverOf, containerIdParams, requireActive, visibleContainer } from './dev-container.ts';
import type { IdeSessions } from './ide-sessions.ts';
import type { IdeUrls } from './ide-urls.ts';
import { vmidsOf } from './vmids.ts';
import { agentErrors } from './examples.ts';

const actions = ['start', 'stop', 'restart'] as const;
const endpoint = { start: 'codeserverStart', stop: 'codeserverStop', restart: 'codeserverRestart' } as const;

/** The IDE's controls (code-server on the agent) and IDE links. */
export function ideRoutes(
  base: string,
  instances: Instances,
  agents: Agents,
  entitlements: Entitlements,
  sessions: IdeSessions,
  urls: IdeUrls,
  db: Parameters<typeof vmidsOf>[0],
  onIdeStopped: (id: string) => Promise<void>,
): RouteDefinition[] {
  const controls = actions.map((action) =>
    defineRoute({
      method: 'post',
      path: `${base}/:id/codeserver/${action}`,
      summary: `${action[0]?.toUpperCase()}${action.slice(1)}s the container's IDE (agent POST /dev/codeserver/${action})`,
      description:
        action === 'start'
          ? "Answers 202 with the IDE state the agent reports, once the container's state shows it: an `ide-token` right after it sees the IDE running."
          : 'Ends every IDE session of the container: open IDE tabs get 401 and their WebSockets close; open the IDE again from the portal.',
      tags: ['dev'],
      auth: 'user',
      request: { params: containerIdParams },
      responses: { 202: z.object({ container_id: z.uuid(), action: z.enum(actions), codeserver: z.object({ state: z.string() }) }) },
      errors: { 409: 'The container is not `active` (INSTANCE_NOT_ACTIVE), or the agent refused (AGENT_ERROR)', ...agentErrors },
      examples: { responses: { 202: { container_id: '5d0c8a3e-1f2b-4c6d-8e9f-0a1b2c3d4e5f', action, codeserver: { state: action === 'stop' ? 'stopped' : 'running' } } } },
      handler: async ({ params, principal, requestId }) => {
        const container = await visibleContainer(instances, params.id, principal);
        requireActive(container);
        if (action !== 'stop' && principal?.role !== 'admin') await entitlements.assertMayRun(container.ownerId);
        // Sessions end before the IDE stops (and before it restarts into a fresh one), never after.
        if (action !== 'start') await onIdeStopped(params.id);
        const answer = await agents.call(await instances.target(params.id), endpoint[action], { requestId });
        await instances.confirmAction(params.id);
        return { status: 202, body: { container_id: params.id, action, codeserver: { state: answer.state } } };
      },
    }),
  );
  return [
    ...controls,
    defineRoute({
      method: 'post',
      path: `${base}/:id/ide-token`,
      summary: "A single-use link (about 60 s) that opens the container's IDE in the browser",
      description:
        'Open `url` in a new tab: the IDE spends the token, sets its own session cookie and redirects to itself without the token. ' +
        'Hosted form `https://dev-<vmid>.<suffix>/?ide_token=`, or path form `<host>/__ide/<id>/?ide_token=` (DEV_IDE_RETURN_HOSTED_URL=false with path mode on). ' +
        'The session ends with the sign-in it came from (logout, password reset, disable), when the container is deleted or changes hands, and when the IDE is stopped.',
      tags: ['dev'],
      auth: 'user',
      request: { params: containerIdParams },
      responses: { 201: z.object({ token: z.string(), expires_at: z.iso.datetime(), url: z.string() }) },
      errors: { 409: 'The container is not `active` (INSTANCE_NOT_ACTIVE) or its IDE is not running (IDE_NOT_RUNNING: start it first)' },
      examples: { responses: { 201: { token: 'Jq2...Xw', expires_at: '2026-11-23T09:16:02.000Z', url: 'https://dev-104.ide.example.com/?ide_token=Jq2...Xw' } } },
      handler: async ({ params, principal }) => {
        const me = principal;
        const instance = await visibleContainer(instances, params.id, me);
        requireActive(instance);
        if (codeserverOf(instance).state === 'stopped') {
          throw new ConflictError('IDE_NOT_RUNNING', 'The IDE is stopped; start it with POST /api/dev/:id/codeserver/start first');
        }
        const vmid = (await vmidsOf(db, [params.id])).get(params.id) ?? 0;
        const link = urls.linkFor(params.id, vmid, '');
        const issued = await sessions.issueToken(me, params.id, vmid, link.host, link.mode);
        return { status: 201, body: { token: issued.token, expires_at: issued.expiresAt.toISOString(), url: urls.linkFor(params.id, vmid, issued.token).url } };
      },
    }),
  ];
}
