import type { Events, JobDefinition, Logger } from '../../../src/plugin-api/index.ts';
import { agentOffline } from '../events.ts';
import type { AgentHub } from '../agents/agent-hub.ts';
import type { AgentStore } from '../agents/agent-store.ts';
import type { Commands } from '../agents/commands.ts';

export interface SweepJobOptions {
  agents: AgentStore;
  commands: Commands;
  hub: AgentHub;
  events: Events;
  heartbeatIntervalS: number;
  everyMs: number;
  log: Logger;
}

/**
 * Agents silent for 3 heartbeat intervals go offline (the replica holding the socket closes
 * it on `streamspace.agent_offline`); then the command log's resends and time-outs. Runs on
 * every replica: each resends only to the agents connected to it.
 */
export function sweepJob({ agents, commands, hub, events, heartbeatIntervalS, everyMs, log }: SweepJobOptions): JobDefinition {
  return {
    id: 'streamspace.sweep',
    every_ms: everyMs,
    timeout_ms: 30_000,
    once_across_replicas: false,

    run: async () => {
      for (const gone of await agents.sweepSilent(3 * heartbeatIntervalS)) {
        log.info({ agent_id: gone.agent_id }, 'agent offline (no heartbeat for 3 intervals)');
        if (gone.websocket_conn_id) await events.publish(agentOffline, null, { agent_id: gone.agent_id, conn_id: gone.websocket_conn_id });
      }
      await commands.sweep((agentId) => hub.isLocal(agentId));
    },
  };
}
