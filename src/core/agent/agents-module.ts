import type { Config } from '../../config/schema.ts';
import type { CoreModule } from '../boot/core-module.ts';
import { AgentClient } from './agent-client.ts';
import { AgentStreams } from './agent-streams.ts';

export interface AgentsModule extends CoreModule {
  /** The one JSON client for agents (timeouts, breakers, contract validation). */
  client: AgentClient;
  /** Raw file and archive streams to agents, beside the client. */
  streams: AgentStreams;
}

/** How the API talks to instance agents: pooled keep-alive connections, closed at stop. Calls name this replica (`X-Panel-Replica`). */
export function createAgentsModule(config: Readonly<Config>, replicaId: string): AgentsModule {
  const a = config.agents;
  const client = new AgentClient({
    timeouts: {
      poll: { connectMs: a.poll_connect_timeout_ms, totalMs: a.poll_timeout_ms },
      action: { connectMs: a.poll_connect_timeout_ms * 2, totalMs: a.action_timeout_ms },
      backup: { connectMs: a.poll_connect_timeout_ms * 2, totalMs: a.backup_timeout_ms },
    },
    maxResponseBytes: a.max_response_bytes,
    maxSockets: a.max_sockets,
    breaker: { threshold: a.breaker_threshold, cooldownMs: a.breaker_cooldown_ms, maxCooldownMs: a.max_backoff_ms },
    replicaId,
  });
  const streams = new AgentStreams({ stallMs: config.files.stall_timeout_ms, maxUploadBytes: config.files.max_upload_bytes });
  return {
    name: 'agents',
    client,
    streams,
    stop: async () => {
      client.close();
      streams.close();
    },
  };
}
