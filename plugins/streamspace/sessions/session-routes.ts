import { z } from 'zod';
import { defineRoute, paginationOf, type RouteDefinition } from '../../../src/plugin-api/index.ts';
import type { VncTokens } from '../vnc/vnc-tokens.ts';
import type { V1Api } from '../v1/api.ts';
import { buckets } from '../v1/buckets.ts';
import type { Commands } from '../agents/commands.ts';
import { sessionStates } from './session-machine.ts';
import { exampleSession, logsQuery, newSessionBody, sessionListQuery, sessionListSchema, sessionSchema } from './session-schemas.ts';
import type { SessionService } from './session-service.ts';
import { sessionView, type SessionStore } from './session-store.ts';

const base = '/api/v1/sessions';
const idParams = z.object({ id: z.uuid() });

export interface SessionRouteOptions {
  v1: V1Api;
  service: SessionService;
  store: SessionStore;
  commands: Commands;
  vncTokens: VncTokens;
  vncTokenTtlS: number;
}

/** Seed "Session Lifecycle", plus the addendum's VNC token and command log. Another user's session is a 404. */
export function sessionRoutes({ v1, service, store, commands, vncTokens, vncTokenTtlS }: SessionRouteOptions): RouteDefinition[] {
  return [
    v1.route(
      defineRoute({
        method: 'post',
        path: base,
        summary: 'Create a session (202: provisioning starts)',
        description:
          'Placed on the least-loaded online agent of the platform/region with a free place. `user` defaults to the caller; a non-admin naming another user gets 403. Counted 10/min per user.',
        auth: 'user',
        request: { body: newSessionBody },
        responses: { 202: sessionSchema },
        errors: {
          400: 'TEMPLATE_NOT_FOUND, MISSING_REQUIRED_FIELD, VALIDATION_FAILED',
          403: 'AUTH_INSUFFICIENT_PERMISSIONS (naming another user)',
          409: 'SESSION_ALREADY_EXISTS',
          503: 'NO_AGENTS_AVAILABLE, AGENT_CAPACITY_EXCEEDED',
        },
        examples: { body: { template: 'firefox-browser', state: 'running', resources: { memory: '2Gi', cpu: '1000m' }, tags: ['project-alpha', 'development'] }, responses: { 202: exampleSession } },
        handler: async (req) => ({ status: 202, body: await service.create(req.body, req.principal) }),
      }),
      buckets.sessionCreate,
    ),
    v1.route(
      defineRoute({
        method: 'get',
        path: base,
        summary: 'List sessions',
        description: 'Non-admins see only their own. Terminated sessions are left out unless state=terminated.',
        auth: 'user',
        request: { query: sessionListQuery },
        responses: { 200: sessionListSchema },
        examples: { responses: { 200: { sessions: [exampleSession], pagination: { page: 1, limit: 20, total: 1, total_pages: 1 } } } },
        handler: async (req) => {
          const me = req.principal;
          const q = req.query;
          const filter = { userId: me.role === 'admin' ? undefined : me.userId, username: q.user, template: q.template, platform: q.platform, agentId: q.agent_id, state: q.state, tags: q.tags };
          const { rows, total } = await store.list(filter, q.sort, q.order, q.page, q.limit);
          return { body: { sessions: rows.map(sessionView), pagination: paginationOf(q.page, q.limit, total) } };
        },
      }),
    ),
    v1.route(
      defineRoute({
        method: 'get',
        path: `${base}/:id`,
        summary: 'Get a session',
        auth: 'user',
        request: { params: idParams },
        responses: { 200: sessionSchema },
        errors: { 404: 'SESSION_NOT_FOUND' },
        examples: { responses: { 200: exampleSession } },
        handler: async (req) => ({ body: sessionView(await service.visible(req.params.id, req.principal)) }),
      }),
    ),
    v1.route(
      defineRoute({
        method: 'patch',
        path: `${base}/:id`,
        summary: 'Hibernate, wake or terminate a session',
        description:
          'Transitions: running→hibernated, hibernated→running, running|hibernated→terminating, any→terminated (admin only, forced). Waits up to `state_wait_ms` for the agent: 200 with the final state, else 202 with the transitional one. Asking for the current state is a 200 no-op. If the agent reports failure: 500 SESSION_PROVISIONING_FAILED (wake) or 502 AGENT_COMMAND_FAILED (hibernate, terminate), the session back in its previous state.',
        auth: 'user',
        request: { params: idParams, body: z.strictObject({ state: z.enum(sessionStates) }) },
        responses: { 200: sessionSchema, 202: sessionSchema },
        errors: {
          400: 'INVALID_STATE_TRANSITION',
          403: "AUTH_INSUFFICIENT_PERMISSIONS ('terminated' by a non-admin)",
          404: 'SESSION_NOT_FOUND',
          409: 'SESSION_TERMINATING',
          500: 'SESSION_PROVISIONING_FAILED',
          502: 'AGENT_COMMAND_FAILED',
          503: 'AGENT_OFFLINE',
        },
        examples: { body: { state: 'hibernated' } },
        handler: async (req) => {
          const { status, session } = await service.patch(req.params.id, req.body.state, req.principal);
          return { status, body: session };
        },
      }),
    ),
    v1.route(
      defineRoute({
        method: 'delete',
        path: `${base}/:id`,
        summary: 'Terminate a session',
        description:
          '204 once the stop is accepted (the session then moves through terminating to terminated). A terminated session: 204 no-op. While terminating: 409 SESSION_TERMINATING. `force=true` ends it at once, even with the agent offline; the agent is sent one stop.',
        auth: 'user',
        request: {
          params: idParams,
          query: z.object({
            force: z
              .enum(['true', 'false', '1', '0'])
              .transform((v) => v === 'true' || v === '1')
              .default(false),
          }),
        },
        responses: { 204: null },
        examples: { params: { id: exampleSession.id, force: 'false' } },
        errors: { 404: 'SESSION_NOT_FOUND', 409: 'SESSION_TERMINATING', 503: 'AGENT_OFFLINE (graceful only; use force=true)' },
        handler: async (req) => {
          await service.remove(req.params.id, req.query.force, req.principal);
          return { status: 204 };
        },
      }),
    ),
    v1.route(
      defineRoute({
        method: 'get',
        path: `${base}/:id/logs`,
        summary: "Read a session's container logs from its agent",
        auth: 'user',
        request: { params: idParams, query: logsQuery },
        responses: { 200: z.object({ logs: z.array(z.string()) }) },
        errors: { 404: 'SESSION_NOT_FOUND', 502: 'AGENT_COMMAND_FAILED', 503: 'AGENT_OFFLINE', 504: 'AGENT_TIMEOUT' },
        examples: { responses: { 200: { logs: ['2025-11-22T10:45:15Z [INFO] VNC server started on port 5900'] } } },
        handler: async (req) => ({ body: { logs: await service.logs(req.params.id, req.query.tail, req.query.timestamps, req.principal) } }),
      }),
    ),
    v1.route(
      defineRoute({
        method: 'get',
        path: `${base}/:id/vnc-token`,
        summary: 'A single-use token (60 s) to open this session in a VNC viewer',
        description:
          'Bound to this session and to the login that asked for it: after a logout it opens nothing, and a viewer opened with it closes on logout. `vnc_url` is the WebSocket with the token in its query; `viewer_url` is the browser viewer page (GET /vnc-viewer/{session_id}) with the token in its fragment.',
        auth: 'user',
        request: { params: idParams },
        responses: {
          200: z.object({
            token: z.string(),
            expires_at: z.iso.datetime(),
            vnc_url: z.string().describe('The WebSocket to hand a VNC client (noVNC): `/vnc-viewer/{id}?token=<token>`'),
            viewer_url: z.string().describe('The browser viewer page with the token in its fragment, which is never sent to the server: `/vnc-viewer/{id}#token=<token>`'),
          }),
        },
        errors: { 404: 'SESSION_NOT_FOUND' },
        examples: {
          responses: {
            200: {
              token: 'vnc_4c1e7a9b2d5f8a3c6e9b1d4f7a2c5e8b',
              expires_at: '2025-11-22T10:46:00Z',
              vnc_url: `/vnc-viewer/${exampleSession.id}?token=vnc_4c1e7a9b2d5f8a3c6e9b1d4f7a2c5e8b`,
              viewer_url: `/vnc-viewer/${exampleSession.id}#token=vnc_4c1e7a9b2d5f8a3c6e9b1d4f7a2c5e8b`,
            },
          },
        },
        handler: async (req) => {
          const session = await service.visible(req.params.id, req.principal);
          const issued = await vncTokens.issue(req.principal, session.id, vncTokenTtlS);
          const token = encodeURIComponent(issued.token);
          return {
            body: { token: issued.token, expires_at: issued.expiresAt.toISOString(), vnc_url: `/vnc-viewer/${session.id}?token=${token}`, viewer_url: `/vnc-viewer/${session.id}#token=${token}` },
          };
        },
      }),
    ),
    v1.route(
      defineRoute({
        method: 'get',
        path: `${base}/:id/commands`,
        summary: "A session's command log (admin)",
        auth: 'admin',
        request: { params: idParams },
        responses: {
          200: z.object({
            commands: z.array(
              z.object({
                command_id: z.string(),
                command_type: z.string(),
                status: z.enum(['pending', 'sent', 'acknowledged', 'completed', 'failed', 'timed_out']),
                attempts: z.number().int(),
                sent_at: z.iso.datetime().nullable(),
                acknowledged_at: z.iso.datetime().nullable(),
                completed_at: z.iso.datetime().nullable(),
                error: z.string().nullable(),
                error_code: z.string().nullable(),
              }),
            ),
          }),
        },
        errors: { 404: 'SESSION_NOT_FOUND' },
        examples: {
          responses: {
            200: {
              commands: [
                {
                  command_id: 'cmd-7f3a9c',
                  command_type: 'start_session',
                  status: 'completed',
                  attempts: 1,
                  sent_at: '2025-11-22T10:45:01Z',
                  acknowledged_at: '2025-11-22T10:45:01Z',
                  completed_at: '2025-11-22T10:45:14Z',
                  error: null,
                  error_code: null,
                },
              ],
            },
          },
        },
        handler: async (req) => {
          await service.visible(req.params.id, req.principal);
          const iso = (d: Date | null): string | null => (d === null ? null : new Date(d).toISOString());
          const rows = await commands.forSession(req.params.id);
          return {
            body: {
              commands: rows.map((c) => ({
                command_id: c.command_id,
                command_type: c.command_type,
                status: c.status,
                attempts: c.attempts,
                sent_at: iso(c.sent_at),
                acknowledged_at: iso(c.acknowledged_at),
                completed_at: iso(c.completed_at),
                error: c.error,
                error_code: c.error_code,
              })),
            },
          };
        },
      }),
    ),
  ];
}
