import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { AppError, UnauthorizedError, defineWebSocket, hashToken, type PluginContext, type Principal, type WebSocketRoute } from '../../../src/plugin-api/index.ts';
import { bearerOf, buckets, v1AuthError, type Bucket, type V1Api } from '../v1/api.ts';
import { v1Errors } from '../v1/api-errors.ts';
import type { AgentGrant, AgentHub } from './agent-hub.ts';
import type { AgentKeys } from './agent-keys.ts';
import type { StreamspaceConfig } from '../config.ts';
import { agentIdSchema } from '../contract/protocol.ts';
import type { SessionService } from '../sessions/session-service.ts';
import type { SessionRow } from '../sessions/session-store.ts';
import type { VncTokens } from '../vnc/vnc-tokens.ts';
import type { AgentLink, VncMux } from '../vnc/vnc-mux.ts';

interface Deps {
  v1: V1Api;
  vncTokens: VncTokens;
  ctx: PluginContext<StreamspaceConfig>;
  hub: AgentHub;
  keys: AgentKeys;
  vnc: VncMux;
  sessions: SessionService;
}

const badParam = (field: string, message: string): AppError => new AppError(400, 'INVALID_PARAMETER', 'Invalid parameter', message, { field });

/** `/agent/ws` (agents, by key; no Origin check) and `/vnc-viewer/{session_id}` (browsers: Origin, token, ownership). */
export function streamspaceSockets({ v1, vncTokens, ctx, hub, keys, vnc, sessions }: Deps): WebSocketRoute[] {
  // Upgrades have limits of their own and do not count against the REST ones (addendum).
  const limit = async (bucket: Bucket, ip: string): Promise<void> => {
    const state = await ctx.rateLimiter.consume(bucket, `ip:${ip}`);
    if (!state.allowed) throw v1Errors.rateLimited(Math.max(1, Math.ceil((state.resetAt.getTime() - Date.now()) / 1000)));
  };

  const agentSocket = defineWebSocket<AgentGrant>({
    path: '/agent/ws',
    origin: 'any',
    maxPayloadBytes: 4 * 1024 * 1024,
    authorize: async (up) => {
      await limit(buckets.agentSocket, up.ip);
      const agentId = agentIdSchema.safeParse(up.url.searchParams.get('agent_id') ?? undefined);
      if (!agentId.success) throw badParam('agent_id', 'Pass the agent_id query parameter (letters, digits, . _ : -)');
      const platform = z.string().min(1).max(64).safeParse(up.url.searchParams.get('platform') ?? undefined);
      if (!platform.success) throw badParam('platform', 'Pass the platform query parameter (e.g. docker, kubernetes)');
      const key = bearerOf(up.req.headers.authorization);
      if (key === null) throw new UnauthorizedError('AUTH_TOKEN_MISSING', 'Send the agent key as "Authorization: Bearer <key>" (an admin issues it with POST /api/v1/admin/agent-keys)');
      const keyHash = hashToken(key);
      if (!(await keys.isCurrent(agentId.data, keyHash))) throw new UnauthorizedError('AUTH_TOKEN_INVALID', 'This key is not the current key of that agent_id');
      return { agentId: agentId.data, keyHash, region: up.url.searchParams.get('region') || null };
    },
    onConnection: (ws, _up, grant) => hub.accept(ws, grant),
  });

  const viewer = defineWebSocket<{ session: SessionRow; principal: Principal; link: AgentLink }>({
    path: '/vnc-viewer/:session_id',
    origin: 'panel',
    maxPayloadBytes: 1024 * 1024,
    authorize: async (up) => {
      await limit(buckets.vnc, up.ip);
      const token = up.url.searchParams.get('token');
      if (!token) throw new UnauthorizedError('AUTH_TOKEN_MISSING', 'Pass ?token= (the login token, or one from GET /api/v1/sessions/{id}/vnc-token)');
      const sessionId = up.params.session_id ?? '';
      if (!z.uuid().safeParse(sessionId).success) throw v1Errors.sessionNotFound(sessionId);
      let principal: Principal;
      if (token.split('.').length === 3) {
        // A JWT: the login token.
        try {
          principal = await v1.tokens.verify(token);
        } catch (err) {
          throw v1AuthError(err);
        }
      } else {
        // Otherwise a single-use VNC token for this session; the login it came from must still hold.
        const redeemed = await vncTokens.redeem(token, sessionId);
        if (!redeemed) throw new UnauthorizedError('AUTH_TOKEN_INVALID', 'This VNC token is invalid, used, expired or for another session; get a new one');
        if (!(await ctx.auth.stillValid(redeemed))) throw new UnauthorizedError('AUTH_TOKEN_INVALID', 'The login this VNC token came from has ended; log in again');
        principal = redeemed;
      }
      const session = await sessions.visible(sessionId, principal);
      if (session.state !== 'running') throw v1Errors.sessionNotRunning(session.id, session.state);
      const link = session.agent_connected ? hub.link(session.agent_id) : null;
      if (!link) throw v1Errors.agentOffline(session.agent_id);
      if (vnc.viewersOf(session.id) >= ctx.config.vnc.max_viewers_per_session) throw v1Errors.tooManyViewers(ctx.config.vnc.max_viewers_per_session);
      return { session, principal, link };
    },
    onConnection: (ws, _up, { session, principal, link }) => {
      vnc.open({
        proxyId: randomUUID(),
        sessionId: session.id,
        userId: principal.userId,
        principal,
        familyId: principal.familyId || null,
        link,
        viewer: ws,
        request: { pod_name: session.status.pod_name ?? session.name, namespace: session.namespace, vnc_port: session.status.vnc_port ?? null },
      });
    },
  });

  return [agentSocket, viewer];
}
