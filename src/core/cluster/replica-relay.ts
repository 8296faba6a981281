import { WebSocket } from 'ws';
import { AppError, UnauthorizedError } from '../http/errors.ts';
import type { Logger } from '../log/logger.ts';
import { defineWebSocket, type WebSocketRoute } from '../ws/websocket-route.ts';
import { signRelayToken, verifyRelayToken, type RelayClaims } from './relay-token.ts';
import type { ReplicaRegistry } from './replica-registry.ts';

/** Takes a relay another replica opened: the socket and the stream its token was bound to. */
export type RelayHandler = (ws: WebSocket, data: Record<string, unknown>, from: string) => void;

/** The replica is not in the registry, has no address yet, or did not accept the relay. */
export class ReplicaUnreachableError extends Error {
  constructor(
    readonly replicaId: string,
    detail: string,
  ) {
    super(`replica ${replicaId} is unreachable: ${detail}`);
  }
}

export interface ReplicaRelayOptions {
  registry: ReplicaRegistry;
  /** The cluster secret every replica reads from the database. */
  secret: string;
  log: Logger;
  connectTimeoutMs?: number;
}

/** Where replicas accept relays; it is not for browsers (any Origin is refused) and not in the OpenAPI document. */
export const relayPath = '/internal/relay/:channel';
const tokenHeader = 'x-panel-relay-token';
/** A relay carries whatever its channel does; this bounds one message either way. */
const maxRelayMessageBytes = 16 * 1024 * 1024;

/**
 * Internal WebSockets between replicas, so a socket that lands on one replica can reach a
 * connection another replica holds (an agent's). The opening replica signs a token with the
 * cluster secret, naming the channel, the target replica and the stream, valid for seconds
 * and accepted once; the target hands the socket to the channel's handler with exactly the
 * data that was signed. Authorisation of the user happens on the replica the user reached.
 */
export class ReplicaRelay {
  private readonly handlers = new Map<string, RelayHandler>();
  /** Tokens already used, until they expire. */
  private readonly used = new Map<string, number>();

  constructor(private readonly options: ReplicaRelayOptions) {}

  get replicaId(): string {
    return this.options.registry.replicaId;
  }

  handle(channel: string, handler: RelayHandler): void {
    if (this.handlers.has(channel)) throw new Error(`relay channel ${channel} already has a handler`);
    this.handlers.set(channel, handler);
  }

  /** Whether the replica is live in the registry and reachable by address. */
  async isLive(replicaId: string): Promise<boolean> {
    return ((await this.options.registry.find(replicaId))?.internal_url ?? null) !== null;
  }

  /** Opens a relay to `replicaId` for `channel`, bound to `data`. Resolves open and paused; `pipeWebSockets` resumes it. */
  async open(replicaId: string, channel: string, data: Record<string, unknown>): Promise<WebSocket> {
    const row = await this.options.registry.find(replicaId);
    if (!row?.internal_url) throw new ReplicaUnreachableError(replicaId, row ? 'it has no internal address yet' : 'it is not live');
    const base = row.internal_url.endsWith('/') ? row.internal_url : `${row.internal_url}/`;
    const url = new URL(relayPath.slice(1).replace(':channel', encodeURIComponent(channel)), base);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const token = signRelayToken(this.options.secret, { channel, to: replicaId, from: this.replicaId, data });
    const ws = new WebSocket(url, { headers: { [tokenHeader]: token }, handshakeTimeout: this.options.connectTimeoutMs ?? 5_000, perMessageDeflate: false, maxPayload: maxRelayMessageBytes });
    return new Promise<WebSocket>((resolve, reject) => {
      const fail = (detail: string): void => {
        ws.removeAllListeners('open');
        ws.terminate();
        reject(new ReplicaUnreachableError(replicaId, detail));
      };
      ws.once('open', () => {
        // Paused at once: the target may speak first, before the caller listens.
        ws.pause();
        ws.removeAllListeners('unexpected-response');
        resolve(ws);
      });
      ws.on('unexpected-response', (_req, res) => {
        res.resume();
        fail(`it answered the relay with HTTP ${res.statusCode ?? 0}`);
      });
      ws.on('error', (err: NodeJS.ErrnoException) => {
        if (ws.readyState !== WebSocket.OPEN) fail(err.code ?? err.message);
      });
    });
  }

  /** The route every replica serves for the others. */
  route(): WebSocketRoute {
    return defineWebSocket<{ claims: RelayClaims; handler: RelayHandler }>({
      path: relayPath,
      origin: () => false,
      maxPayloadBytes: maxRelayMessageBytes,
      authorize: async (up) => {
        const channel = up.params.channel ?? '';
        const header = up.req.headers[tokenHeader];
        if (typeof header !== 'string') throw new UnauthorizedError('RELAY_TOKEN_MISSING', 'Replicas open relays with a signed token');
        const claims = verifyRelayToken(this.options.secret, header, { channel, replicaId: this.replicaId });
        if ('problem' in claims) {
          up.log.warn({ problem: claims.problem, channel }, 'refused a relay');
          throw new UnauthorizedError('RELAY_TOKEN_INVALID', `This relay token is not valid here (${claims.problem})`);
        }
        if (!this.spend(claims)) throw new UnauthorizedError('RELAY_TOKEN_INVALID', 'This relay token was already used');
        const handler = this.handlers.get(channel);
        if (!handler) throw new AppError(404, 'RELAY_CHANNEL_NOT_FOUND', 'Not found', `No relay channel ${channel} on this replica; is every replica running the same plugins?`);
        return { claims, handler };
      },
      onConnection: (ws, _up, { claims, handler }) => {
        ws.pause();
        handler(ws, claims.data, claims.from);
      },
    });
  }

  private spend(claims: RelayClaims): boolean {
    const now = Date.now();
    // Every token lives the same time, so insertion order is expiry order.
    for (const [jti, exp] of this.used) {
      if (exp >= now) break;
      this.used.delete(jti);
    }
    if (this.used.has(claims.jti)) return false;
    this.used.set(claims.jti, claims.exp * 1000);
    return true;
  }
}
