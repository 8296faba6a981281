import type { Events } from '../../../src/plugin-api/index.ts';
import type { AgentHub } from '../agents/agent-hub.ts';
import { agentCloseCodes } from '../contract/close-codes.ts';
import { agentOffline } from '../events.ts';

/** The sweep (on any replica) took a silent agent offline: the replica holding that connection closes it. */
export function closeSilentAgent(events: Events, { hub }: { hub: AgentHub }): () => void {
  return events.on(agentOffline, ({ data }) => hub.closeConnection(data.agent_id, data.conn_id, agentCloseCodes.stale, 'no heartbeat for 3 intervals; reconnect and register'));
}
