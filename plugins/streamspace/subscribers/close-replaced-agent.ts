import type { Logger, PanelEvent } from '../../../src/plugin-api/index.ts';
import type { AgentHub } from '../agents/agent-hub.ts';

export interface CloseReplacedAgentOptions {
  hub: AgentHub;
  log: Logger;
}

/** `streamspace.agent_replaced`: another replica registered the agent, so our connection to it goes (unless it is the current one after all). */
export function closeReplacedAgent({ hub, log }: CloseReplacedAgentOptions): (event: PanelEvent) => void {
  return (event) => {
    if (event.type !== 'streamspace.agent_replaced') return;
    const data = (event.data ?? {}) as { agent_id?: string };
    if (data.agent_id) void hub.replacedElsewhere(data.agent_id).catch((err: unknown) => log.warn({ err }, 'could not check a replaced agent'));
  };
}
