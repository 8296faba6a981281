import { z } from 'zod';
import {
  AppError,
  defineRoute,
  defineWebSocket,
  openAgentSocket,
  UnauthorizedError,
  type Instances,
  type PluginContext,
  type RouteDefinition,
  type WebSocketRoute,
} from '../../src/plugin-api/index.ts';
import type { WebSocket } from 'ws';
import type { GameConfig } from './config.ts';
import { requireLifecycle, serverIdParams, visibleServer } from './game-server.ts';
import { closeCodes, type ConsoleSockets } from './console-sockets.ts';

const ticketPurpose = 'game.console';
/** An agent socket opened for an upgrade that never completed is closed after this. */
const handoverMs = 10_000;

function consoleUrl(publicUrl: string, serverId: string, ticket: string): string {
  const base = new URL(publicUrl);
  base.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${base.origin}/api/game/servers/${serverId}/console?ticket=${encodeURIComponent(ticket)}`;
}

const closeCodeText =
  "Close codes: 4502 the agent's console went away (get a new ticket and reconnect), 4429 this socket sent too many messages, 4404 server deleted, " +
  '4403 your sessions ended, 4409 the server left `active`, 4408 output read too slowly, 1009 a message over 4 KiB, 1001 the API is restarting (reconnect).';

/** The console ticket route and the console WebSocket, proxied to the agent's `/console`. */
export function consoleRoutes(ctx: PluginContext<GameConfig>, instances: Instances, sockets: ConsoleSockets): { routes: RouteDefinition[]; websocket: WebSocketRoute } {
  const settings = ctx.config.console;
  const routes = [
    defineRoute({
      method: 'post',
      path: '/servers/:id/console/ticket',
      summary: 'A single-use, 60-second ticket for opening the console WebSocket (browsers cannot send an Authorization header on upgrades)',
      description: `Open \`url\` (WS /api/game/servers/:id/console?ticket=) within the ticket's life. Client frames: {"type":"command","command":"..."}; server frames: {"type":"line","data":"..."}, {"type":"state","state":"running"}, {"type":"throttled","scope":"socket"|"server","retry_after_ms":N} (\`socket\`: this socket sent too fast and is closed with 4429 if it goes on; \`server\`: all consoles of the server together did, across replicas, and that command was dropped), {"type":"error","code":"BAD_FRAME"}. ${closeCodeText}`,
      tags: ['game'],
      auth: 'user',
      request: { params: serverIdParams },
      responses: { 201: z.object({ ticket: z.string(), expires_at: z.iso.datetime(), url: z.string() }) },
      errors: { 409: 'The server is not `active` (INSTANCE_NOT_ACTIVE)' },
      examples: {
        responses: {
          201: { ticket: 'tkt_4x9...', expires_at: '2026-11-23T10:16:02.000Z', url: 'wss://panel.example.com/api/game/servers/0b9f3c1e-5d7a-4d6e-9f52-2a3f7c1b8e40/console?ticket=tkt_4x9...' },
        },
      },
      handler: async ({ params, principal }) => {
        const me = principal;
        requireLifecycle(await visibleServer(instances, params.id, me));
        const issued = await ctx.auth.tickets.issue(me.userId, ticketPurpose, params.id, settings.ticket_ttl_s);
        return { status: 201, body: { ticket: issued.ticket, expires_at: issued.expiresAt.toISOString(), url: consoleUrl(ctx.core.publicUrl, params.id, issued.ticket) } };
      },
    }),
  ];

  const websocket = defineWebSocket({
    path: '/servers/:id/console',
    maxPayloadBytes: settings.max_message_bytes,
    docs: {
      operationId: 'openGameServerConsole',
      summary: "The server console as a WebSocket (relayed to the agent's /console)",
      description:
        'Client frames (text, JSON): {"type":"command","command":"..."} (1..4096 characters). Server frames: {"type":"line","data":"..."}, {"type":"state","state":"running"}, ' +
        '{"type":"throttled","scope":"socket"|"server","retry_after_ms":N}, {"type":"error","code":"BAD_FRAME"}. The Origin must be PUBLIC_URL\'s or in ALLOWED_ORIGINS.',
      security: {
        name: 'ticket',
        scheme: { type: 'apiKey', in: 'query', name: 'ticket', description: 'A single-use ticket (POST .../ticket), for clients that cannot send headers (EventSource, browser WebSockets)' },
      },
      subprotocols: [],
      errors: {
        401: 'No ticket (TICKET_MISSING), or it is invalid, used or expired (TICKET_INVALID)',
        403: 'The Origin is not allowed (ORIGIN_NOT_ALLOWED)',
        404: 'No such server, or not yours (NOT_FOUND)',
        409: 'The server is not `active` (INSTANCE_NOT_ACTIVE)',
        429: 'Too many consoles open on this server (CONSOLE_SOCKET_LIMIT), or too many upgrades from this IP (RATE_LIMIT_EXCEEDED)',
        504: 'The agent cannot be reached (AGENT_UNREACHABLE)',
      },
      closeCodes: {
        1001: 'the API is restarting (reconnect)',
        1009: 'a message over the size limit',
        [closeCodes.agentLost]: "the agent's console went away (get a new ticket and reconnect)",
        [closeCodes.throttled]: 'this socket sent too many messages',
        [closeCodes.serverGone]: 'the server was deleted',
        [closeCodes.accessRevoked]: 'your sessions ended',
        [closeCodes.notActive]: 'the server left `active`',
        [closeCodes.tooSlow]: 'output read too slowly',
      },
      examples: {
        params: { id: '0b9f3c1e-5d7a-4d6e-9f52-2a3f7c1b8e40' },
        frames: [
          { from: 'client', data: { type: 'command', command: 'say hello' } },
          { from: 'server', data: { type: 'line', data: '[Server] hello' } },
          { from: 'server', data: { type: 'state', state: 'running' } },
        ],
      },
    },
    // The dispatcher has already checked Origin against PUBLIC_URL and ALLOWED_ORIGINS.
    authorize: async (up) => {
      const { url, params } = up;
      const serverId = params.id ?? '';
      const ticket = url.searchParams.get('ticket');
      if (!ticket) throw new UnauthorizedError('TICKET_MISSING', 'Get a ticket from POST /api/game/servers/:id/console/ticket and pass it as ?ticket=');
      if (!serverIdParams.safeParse({ id: serverId }).success) throw new UnauthorizedError('TICKET_INVALID', 'This ticket is invalid, used or expired; get a new one');
      const principal = await ctx.auth.redeemTicket(ticket, ticketPurpose, serverId);
      const server = await visibleServer(instances, serverId, principal);
      requireLifecycle(server);
      // Last before the agent: a place under the server's cap, counted across replicas, held while this connection is open.
      const place = await ctx.limits.acquireSlot([{ key: `console:${serverId}`, limit: settings.max_sockets_per_server }], up.req.socket);
      if (!place.ok) {
        throw new AppError(
          429,
          'CONSOLE_SOCKET_LIMIT',
          'Too many console connections',
          `This server already has ${place.held} open consoles (the limit is ${settings.max_sockets_per_server}); close one and retry`,
          { limit: settings.max_sockets_per_server },
          { 'Retry-After': '5' },
        );
      }
      // Connected before the upgrade, so an unreachable agent is a 504 envelope, not an open-then-closed socket.
      let agent: WebSocket;
      try {
        agent = await openAgentSocket(await instances.target(serverId), '/console', { requestId: up.requestId, timeoutMs: 5_000 });
      } catch (err) {
        // The refusal closes the connection, which frees the place too; this is sooner.
        await place.slot.release();
        throw err;
      }
      // It comes paused and stays so until the client's side is open: the first frames (the current state) are not lost.
      const handover = setTimeout(() => agent.terminate(), handoverMs);
      handover.unref();
      return { agent, handover, serverId, userId: principal.userId };
    },
    onConnection: (client: WebSocket, _upgrade, grant) => {
      clearTimeout(grant.handover);
      if (grant.agent.readyState !== grant.agent.OPEN) {
        client.close(closeCodes.agentLost, 'agent console connection lost; reconnect');
        return;
      }
      sockets.relay(grant.serverId, grant.userId, client, grant.agent);
    },
  });
  return { routes, websocket };
}
