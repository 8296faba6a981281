import type { WebSocket } from 'ws';
import { consoleClientFrameSchema, type RateDecision } from '../../src/plugin-api/index.ts';

/** Close codes the portal acts on (documented on the console routes). */
export const closeCodes = {
  /** The agent's console went away (restart, crash, network): reconnect with a new ticket. */
  agentLost: 4502,
  /** Too many messages: the client was throttled and then cut off. */
  throttled: 4429,
  /** The server was deleted. */
  serverGone: 4404,
  /** The user's sessions ended (disabled, signed out everywhere). */
  accessRevoked: 4403,
  /** The server left `active` (suspended). */
  notActive: 4409,
  /** The client read console output too slowly; reconnect and read the logs. */
  tooSlow: 4408,
} as const;

export interface ConsoleLimits {
  burst: number;
  refillMs: number;
  maxBufferedBytes: number;
  /** Pings both sides this often (idle proxies drop silent connections); a side that misses a pong is cut. */
  pingMs: number;
  /** One token of the server's command budget, shared by all its consoles on every replica. */
  serverBudget(serverId: string): Promise<RateDecision>;
}

interface Connection {
  serverId: string;
  userId: string;
  client: WebSocket;
  agent: WebSocket;
}

/** A token bucket: `burst` messages at once, then one per `refillMs`. */
class MessageBudget {
  private tokens: number;
  private last = Date.now();

  constructor(private readonly limits: ConsoleLimits) {
    this.tokens = limits.burst;
  }

  take(): boolean {
    const now = Date.now();
    this.tokens = Math.min(this.limits.burst, this.tokens + (now - this.last) / this.limits.refillMs);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  get retryAfterMs(): number {
    return Math.ceil((1 - this.tokens) * this.limits.refillMs);
  }
}

/**
 * The open console sockets of this replica: each client socket is relayed to its own agent
 * socket, findable per server and per user, so deletion and disabling can close them. (The
 * per-server cap is counted in the database, across replicas: see console-routes.ts.)
 *
 * Client messages pass two budgets: the socket's own token bucket, in memory, which cuts a
 * flooding socket off (4429); then, for valid commands, the server's shared bucket, which
 * protects the game server's stdin from many sockets at once: a command over it is dropped
 * with a `throttled` frame (scope `server`), and the socket stays open, since the flood may be
 * someone else's.
 */
export class ConsoleSockets {
  private readonly open = new Set<Connection>();

  constructor(private readonly limits: ConsoleLimits) {}

  get size(): number {
    return this.open.size;
  }

  /** Relays frames both ways until either side closes; the other side then closes too, with a code that says why. */
  relay(serverId: string, userId: string, client: WebSocket, agent: WebSocket): void {
    const connection: Connection = { serverId, userId, client, agent };
    this.open.add(connection);
    const budget = new MessageBudget(this.limits);
    let warnedAt = 0;
    let closing = false;
    // Commands wait for the shared budget in turn, so they reach the agent in the order sent.
    let inOrder: Promise<void> = Promise.resolve();
    const closeClient = (code: number, reason: string): void => {
      if (closing) return;
      closing = true;
      client.close(code, reason);
      agent.close(1000, 'client gone');
    };

    agent.on('message', (data, isBinary) => {
      if (client.readyState !== client.OPEN) return;
      if (client.bufferedAmount > this.limits.maxBufferedBytes) return closeClient(closeCodes.tooSlow, 'reading console output too slowly; reconnect');
      client.send(data, { binary: isBinary });
    });
    agent.on('close', () => closeClient(closeCodes.agentLost, 'agent console connection lost; reconnect'));
    agent.on('error', () => closeClient(closeCodes.agentLost, 'agent console connection failed; reconnect'));

    client.on('message', (data, isBinary) => {
      if (!budget.take()) {
        // The first excess message is dropped with a warning; flooding on after it ends the socket.
        if (warnedAt !== 0 && Date.now() - warnedAt < 1_000) return closeClient(closeCodes.throttled, 'too many messages');
        warnedAt = Date.now();
        client.send(JSON.stringify({ type: 'throttled', scope: 'socket', retry_after_ms: budget.retryAfterMs, message: 'Too many messages; slow down or the console will be closed' }));
        return;
      }
      let parsed: unknown;
      try {
        parsed = isBinary ? undefined : JSON.parse(data.toString('utf8'));
      } catch {
        parsed = undefined;
      }
      const frame = consoleClientFrameSchema.safeParse(parsed);
      if (!frame.success) {
        client.send(JSON.stringify({ type: 'error', code: 'BAD_FRAME', message: 'Send {"type":"command","command":"..."} (1..4096 characters, no NUL)' }));
        return;
      }
      const command = frame.data.command;
      inOrder = inOrder.then(async () => {
        // A database outage must not silence every console; the socket's own bucket still holds.
        const shared = await this.limits.serverBudget(serverId).catch((): RateDecision => ({ allowed: true, retryAfterMs: 0 }));
        if (!shared.allowed) {
          if (client.readyState === client.OPEN) {
            client.send(
              JSON.stringify({
                type: 'throttled',
                scope: 'server',
                retry_after_ms: shared.retryAfterMs,
                message: 'This server is getting too many commands from all its consoles; this one was dropped, retry shortly',
              }),
            );
          }
          return;
        }
        if (agent.readyState === agent.OPEN) agent.send(JSON.stringify({ type: 'command', command }));
      });
    });
    // Keepalive both ways: a pong must come back before the next ping, or that side is dead.
    const alive = new Map([
      [client, true],
      [agent, true],
    ]);
    for (const side of [client, agent]) side.on('pong', () => alive.set(side, true));
    const keepalive = setInterval(() => {
      if (!alive.get(agent)) return closeClient(closeCodes.agentLost, 'agent console stopped answering; reconnect');
      if (!alive.get(client)) {
        client.terminate();
        return;
      }
      for (const side of [client, agent]) {
        alive.set(side, false);
        side.ping();
      }
    }, this.limits.pingMs);
    keepalive.unref();

    client.on('close', () => {
      clearInterval(keepalive);
      this.open.delete(connection);
      closing = true;
      agent.close(1000, 'client gone');
    });
    agent.resume();
  }

  closeServer(serverId: string, code: number, reason: string): void {
    for (const c of this.open) if (c.serverId === serverId) c.client.close(code, reason);
  }

  closeUser(userId: string, code: number, reason: string): void {
    for (const c of this.open) if (c.userId === userId) c.client.close(code, reason);
  }

  closeAll(): void {
    for (const c of this.open) c.client.close(1001, 'server shutting down');
  }
}
