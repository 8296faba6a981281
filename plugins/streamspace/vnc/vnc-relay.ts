import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import { pipeWebSockets, type Cluster, type Logger, type Principal } from '../../../src/plugin-api/index.ts';
import type { AgentHub } from '../agents/agent-hub.ts';
import type { SessionRow } from '../sessions/session-store.ts';
import type { VncMux } from './vnc-mux.ts';

/** The relay channel (`streamspace.vnc`) a viewer's replica opens to the replica holding the agent's socket. */
export const vncRelayChannel = 'vnc';

/**
 * Close codes of a relayed viewer. 1012 (Service Restart, IANA registry) tells the viewer page
 * to reconnect: the replica holding the agent went away, and the agent will register again
 * with some replica. 1013 (Try Again Later): that replica could not be reached just now.
 */
export const relayCloseCodes = { reconnect: 1012, tryAgain: 1013, goingAway: 1001 } as const;

/** What the viewer's replica checked and signs into the relay: the holder acts on exactly this. */
const relayedViewerSchema = z.object({
  session_id: z.uuid(),
  agent_id: z.string().min(1),
  principal: z.object({ userId: z.string(), role: z.enum(['admin', 'user']), tokenId: z.string(), familyId: z.string(), expiresAt: z.string() }),
  request: z.record(z.string(), z.unknown()),
});

export function relayedViewerData(session: SessionRow, principal: Principal): Record<string, unknown> {
  return {
    session_id: session.id,
    agent_id: session.agent_id,
    principal: { ...principal, expiresAt: principal.expiresAt.toISOString() },
    request: { pod_name: session.status.pod_name ?? session.name, namespace: session.namespace, vnc_port: session.status.vnc_port ?? null },
  };
}

/**
 * The holder's side: a relay from another replica becomes one more viewer stream of this
 * replica's mux, with its own credit; the relay socket stands in for the browser, so logout,
 * session end and the recheck close it here, and the viewer's replica passes the close on.
 */
export function acceptRelayedViewers(cluster: Cluster, { hub, vnc, log }: { hub: AgentHub; vnc: VncMux; log: Logger }): void {
  cluster.onRelay(vncRelayChannel, (ws, data) => {
    const parsed = relayedViewerSchema.safeParse(data);
    if (!parsed.success) {
      log.warn({ issues: parsed.error.issues.length }, 'refused a relayed viewer with malformed data');
      ws.close(1008, 'malformed relay');
      return;
    }
    const { session_id: sessionId, agent_id: agentId, request } = parsed.data;
    const link = hub.link(agentId);
    if (!link) {
      ws.close(relayCloseCodes.reconnect, 'the agent is no longer connected to this replica; reconnect');
      return;
    }
    const principal: Principal = { ...parsed.data.principal, expiresAt: new Date(parsed.data.principal.expiresAt) };
    vnc.open({ proxyId: randomUUID(), sessionId, userId: principal.userId, principal, familyId: principal.familyId || null, link, viewer: ws, request });
    ws.resume();
  });
}

/** Viewers this replica passes to another, so shutdown can close them like its own. */
export class RelayedViewers {
  private readonly viewers = new Set<WebSocket>();

  /**
   * The viewer's side: opens the relay to the replica holding the agent and joins it to the
   * viewer, byte for byte with backpressure both ways (credit is the holder's). The viewer is
   * paused until then, so nothing it sends is lost.
   */
  async relay(cluster: Cluster, viewer: WebSocket, holder: string, data: Record<string, unknown>, log: Logger): Promise<void> {
    viewer.pause();
    this.viewers.add(viewer);
    viewer.once('close', () => this.viewers.delete(viewer));
    let relay: WebSocket;
    try {
      relay = await cluster.relay(holder, vncRelayChannel, data);
    } catch (err) {
      log.warn({ err, replica_id: holder }, 'could not relay a VNC viewer to the replica holding its agent');
      if (viewer.readyState === viewer.OPEN) viewer.close(relayCloseCodes.tryAgain, "the replica holding this session's agent is unreachable; reconnect in a moment");
      return;
    }
    if (viewer.readyState !== viewer.OPEN) {
      relay.close(1000, 'viewer closed');
      return;
    }
    pipeWebSockets(viewer, relay, {
      // The holder's own closes (ended, agent failed, logged out) reach the viewer as they are;
      // the holder going away (shutdown, killed) becomes "reconnect".
      closeFromB: (code, reason) =>
        code === 1001 || code === 1005 || code === 1006 || code === relayCloseCodes.reconnect
          ? { code: relayCloseCodes.reconnect, reason: "the replica holding this session's agent went away; reconnect" }
          : { code, reason },
    });
  }

  closeAll(): void {
    for (const viewer of this.viewers) viewer.close(relayCloseCodes.goingAway, 'server shutting down');
  }
}
