import { z } from 'zod';
import { AppError, UnauthorizedError, defineWebSocket, hashToken, type RateLimiter, type WebSocketRoute } from '../../../src/plugin-api/index.ts';
import { bearerOf } from '../v1/api.ts';
import { buckets } from '../v1/buckets.ts';
import { limitUpgrade } from '../v1/upgrade-limit.ts';
import { agentIdSchema } from '../contract/protocol.ts';
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
    authorize: async (up) => {
      await limitUpgrade(rateLimiter, buckets.agentSocket, up.ip);
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
}
