import type { PanelEvent } from '../../../src/plugin-api/index.ts';
import type { AgentHub } from '../agents/agent-hub.ts';
import { agentCloseCodes } from '../contract/close-codes.ts';

export interface CloseSilentAgentOptions {
  hub: AgentHub;
}

/** `streamspace.agent_offline`: the sweep (on any replica) took a silent agent offline; the replica holding that connection closes it. */
export function closeSilentAgent({ hub }: CloseSilentAgentOptions): (event: PanelEvent) => void {
  return (event) => {
    if (event.type !== 'streamspace.agent_offline') return;
    const data = (event.data ?? {}) as { agent_id?: string; conn_id?: string };
    if (data.agent_id && data.conn_id) hub.closeConnection(data.agent_id, data.conn_id, agentCloseCodes.stale, 'no heartbeat for 3 intervals; reconnect and register');
  };
}
