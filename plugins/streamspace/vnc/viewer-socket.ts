import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { UnauthorizedError, defineWebSocket, type Cluster, type Logger, type PluginContext, type Principal, type RateLimiter, type WebSocketRoute } from '../../../src/plugin-api/index.ts';
import { v1AuthError, type V1Api } from '../v1/api.ts';
import { v1Errors } from '../v1/api-errors.ts';
import { buckets } from '../v1/buckets.ts';
import { limitUpgrade } from '../v1/upgrade-limit.ts';
import type { AgentHub } from '../agents/agent-hub.ts';
import type { SessionService } from '../sessions/session-service.ts';
import type { SessionRow } from '../sessions/session-store.ts';
import type { VncTokens } from './vnc-tokens.ts';
import type { AgentLink, VncMux } from './vnc-mux.ts';
import { relayedViewerData, type RelayedViewers } from './vnc-relay.ts';
import type { ViewerPlaces } from './viewer-places.ts';

export interface ViewerSocketOptions {
  v1: V1Api;
  vncTokens: VncTokens;
  rateLimiter: RateLimiter;
  /** Whether the login a VNC token came from still holds. */
  auth: Pick<PluginContext<unknown>['auth'], 'stillValid'>;
  /** The per-session and per-user viewer caps, shared by every replica. */
  viewerPlaces: ViewerPlaces;
  hub: AgentHub;
  vnc: VncMux;
  sessions: SessionService;
  cluster: Cluster;
  relayed: RelayedViewers;
  log: Logger;
}

/**
 * `/vnc-viewer/{session_id}`: browsers, checked for Origin, token and ownership, relayed
 * through the session's agent: here when this replica holds the agent's socket, otherwise
 * through an internal relay to the replica that does (vnc-relay.ts).
 */
export function viewerSocket({ v1, vncTokens, rateLimiter, auth, viewerPlaces, hub, vnc, sessions, cluster, relayed, log }: ViewerSocketOptions): WebSocketRoute {
  return defineWebSocket<{ session: SessionRow; principal: Principal; link: AgentLink | null; holder: string | null }>({
    path: '/vnc-viewer/:session_id',
    origin: 'panel',
    maxPayloadBytes: 1024 * 1024,
    docs: {
      operationId: 'openVncViewerSocket',
      summary: "The session's VNC stream (raw RFB in binary frames)",
      description: "Pass ?token= (the login token, or a single-use one from GET /api/v1/sessions/{id}/vnc-token). The Origin must be the panel's.",
      tags: ['streamspace'],
      security: { name: 'vncToken', scheme: { type: 'apiKey', in: 'query', name: 'token', description: 'The StreamSpace login token, or a single-use VNC token for this session' } },
      subprotocols: ['binary'],
      errors: {
        400: 'A subprotocol other than `binary` was offered (VNC_SUBPROTOCOL_UNSUPPORTED)',
        401: 'No token (AUTH_TOKEN_MISSING), or it is invalid, used or expired (AUTH_TOKEN_INVALID)',
        403: 'The Origin is not allowed (ORIGIN_NOT_ALLOWED)',
        404: 'No such session, or not yours (SESSION_NOT_FOUND)',
        409: 'The session is not running (SESSION_NOT_RUNNING)',
        429: 'Too many viewers on the session (VNC_VIEWER_LIMIT) or of yours (VNC_USER_VIEWER_LIMIT), or too many upgrades (RATE_LIMIT_EXCEEDED)',
        503: "The session's agent is offline (AGENT_OFFLINE)",
      },
      closeCodes: {
        1000: 'closed, or the session left running',
        1001: 'the server is shutting down',
        1011: 'agent error or disconnect',
        1012: 'reconnect',
        1013: 'try again in a moment',
        4403: 'the login ended',
      },
    },
    // The relay passes raw RFB bytes in binary frames: `binary` (what noVNC offers) or nothing.
    subprotocol: (offered) => {
      if (offered.length === 0) return null;
      if (offered.includes('binary')) return 'binary';
      throw v1Errors.subprotocolUnsupported(offered);
    },
    authorize: async (up) => {
      await limitUpgrade(rateLimiter, buckets.vnc, up.ip);
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
        if (!(await auth.stillValid(redeemed))) throw new UnauthorizedError('AUTH_TOKEN_INVALID', 'The login this VNC token came from has ended; log in again');
        principal = redeemed;
      }
      const session = await sessions.visible(sessionId, principal);
      if (session.state !== 'running') throw v1Errors.sessionNotRunning(session.id, session.state);
      if (!session.agent_connected) throw v1Errors.agentOffline(session.agent_id);
      const link = hub.link(session.agent_id);
      const holder = link ? null : session.agent_replica_id;
      // Recorded as connected through a replica that is gone: offline until the agent registers again.
      if (!link && (holder === null || holder === cluster.replicaId || !(await cluster.isLive(holder)))) throw v1Errors.agentOffline(session.agent_id);
      // Taken here, for the viewer's socket on this replica: a relayed viewer counts once, where it came in.
      await viewerPlaces.take(session.id, principal.userId, up.req.socket);
      return { session, principal, link, holder };
    },
    onConnection: (ws, _up, { session, principal, link, holder }) => {
      if (!link) {
        void relayed.relay(cluster, ws, holder as string, relayedViewerData(session, principal), log);
        return;
      }
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
}
