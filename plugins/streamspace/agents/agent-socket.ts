import { z } from 'zod';
import { AppError, UnauthorizedError, defineWebSocket, hashToken, type RateLimiter, type WebSocketRoute } from '../../../src/plugin-api/index.ts';
import { bearerOf } from '../v1/api.ts';
import { buckets } from '../v1/buckets.ts';
import { limitUpgrade } from '../v1/upgrade-limit.ts';
import { agentIdSchema } from '../contract/protocol.ts';
import { agentCloseCodes } from '../contract/close-codes.ts';
import type { AgentGrant, AgentHub } from './agent-hub.ts';
import type { AgentKeys } from './agent-keys.ts';

export interface AgentSocketOptions {
  rateLimiter: RateLimiter;
  keys: AgentKeys;
  hub: AgentHub;
}

const badParam = (field: string, message: string): AppError => new AppError(400, 'INVALID_PARAMETER', 'Invalid parameter', message, { field });

/** `/agent/ws`: agents, by their key (no Origin check: agents are not browsers). */
export function agentSocket({ rateLimiter, keys, hub }: AgentSocketOptions): WebSocketRoute {
  return defineWebSocket<AgentGrant>({
    path: '/agent/ws',
    origin: 'any',
    maxPayloadBytes: 4 * 1024 * 1024,
    docs: {
      operationId: 'connectStreamspaceAgent',
      summary: 'The agent control socket: a StreamSpace agent registers and takes commands',
      description:
        'One JSON message per text frame; the first must be `register` (answered `register_ack` with `heartbeat_interval`, like "10s"); malformed or unknown messages are logged and ignored. ' +
        'VNC streams ride binary frames that start with the 36-byte proxy_id (`vnc_proxy_request` / `_ready` / `_error` / `_window` / `_close`). No Origin check: agents are not browsers.',
      tags: ['streamspace'],
      security: { name: 'agentKey', scheme: { type: 'http', scheme: 'bearer', description: 'An agent key from POST /api/v1/admin/agent-keys (not a user token)' } },
      query: [
        { name: 'agent_id', required: true, description: 'The agent id the key was issued for (letters, digits, . _ : -)' },
        { name: 'platform', required: true, description: 'docker, kubernetes, ...' },
        { name: 'region', required: false, description: 'Where the agent runs, for placement' },
      ],
      subprotocols: [],
      errors: {
        400: 'agent_id or platform missing or malformed (INVALID_PARAMETER)',
        401: 'No agent key (AUTH_TOKEN_MISSING), or not the current key of that agent_id (AUTH_TOKEN_INVALID)',
        429: 'Too many upgrades from this IP (RATE_LIMIT_EXCEEDED)',
      },
      closeCodes: {
        [agentCloseCodes.policy]: 'the first message was not register, or agent_id does not match the key',
        1011: 'registration failed (reconnect)',
        [agentCloseCodes.shutdown]: 'the control plane is shutting down',
        [agentCloseCodes.revoked]: 'the key was revoked or rotated',
        [agentCloseCodes.stale]: 'silent for 3 heartbeat intervals, or no longer speaking for the agent (reconnect and register)',
        [agentCloseCodes.replaced]: 'replaced by a newer connection',
      },
      examples: {
        params: { agent_id: 'docker-host-01', platform: 'docker', region: 'us-east-1' },
        frames: [
          { from: 'client', data: { type: 'register', agent_id: 'docker-host-01', platform: 'docker', region: 'us-east-1', capacity: { max_sessions: 50, current_sessions: 0 } } },
          { from: 'server', data: { type: 'register_ack', agent_id: 'docker-host-01', status: 'registered', heartbeat_interval: '10s' } },
        ],
      },
    },
    authorize: async (up) => {
      await limitUpgrade(rateLimiter, buckets.agentSocket, up.ip);
      const agentId = agentIdSchema.safeParse(up.url.searchParams.get('agent_id') ?? undefined);
      if (!agentId.success) throw badParam('agent_id', 'Pass the agent_id query parameter (letters, digits, . _ : -)');
      const platform = z
        .string()
        .min(1)
        .max(64)
        .safeParse(up.url.searchParams.get('platform') ?? undefined);
      if (!platform.success) throw badParam('platform', 'Pass the platform query parameter (e.g. docker, kubernetes)');
      const key = bearerOf(up.req.headers.authorization);
      if (key === null) throw new UnauthorizedError('AUTH_TOKEN_MISSING', 'Send the agent key as "Authorization: Bearer <key>" (an admin issues it with POST /api/v1/admin/agent-keys)');
      const keyHash = hashToken(key);
      if (!(await keys.isCurrent(agentId.data, keyHash))) throw new UnauthorizedError('AUTH_TOKEN_INVALID', 'This key is not the current key of that agent_id');
      return { agentId: agentId.data, keyHash, region: up.url.searchParams.get('region') || null };
    },
    onConnection: (ws, _up, grant) => hub.accept(ws, grant),
  });
}
