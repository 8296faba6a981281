import type { WebSocket } from 'ws';

/**
 * The other replicas, as a plugin sees them: which replica this is, and internal relays to
 * the others (for sockets that land on one replica while the connection they need, say an
 * agent's, is held by another). Channels are the plugin's own: `vnc` here is `<plugin>.vnc`.
 */
export interface Cluster {
  /** This replica's id in the registry; record it beside a connection this replica holds. */
  readonly replicaId: string;
  /** Whether a replica is live and has an address the others reach. */
  isLive(replicaId: string): Promise<boolean>;
  /**
   * Accepts relays other replicas open on `channel`: the socket (paused; `pipeWebSockets` or
   * `resume()` starts it) and the data the opener bound the relay to, signed, so it can be trusted.
   */
  onRelay(channel: string, handler: (ws: WebSocket, data: Record<string, unknown>) => void): void;
  /** Opens a relay to `replicaId`'s handler of `channel`, bound to `data`; rejects when that replica is unreachable. */
  relay(replicaId: string, channel: string, data: Record<string, unknown>): Promise<WebSocket>;
}
