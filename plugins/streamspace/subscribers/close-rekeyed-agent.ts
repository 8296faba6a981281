import type { Logger, PanelEvent } from '../../../src/plugin-api/index.ts';
import type { AgentHub } from '../agents/agent-hub.ts';

export interface CloseRekeyedAgentOptions {
  hub: AgentHub;
  log: Logger;
}

/** `streamspace.agent_key_changed`: a key was rotated or revoked; connections opened with another key close. */
export function closeRekeyedAgent({ hub, log }: CloseRekeyedAgentOptions): (event: PanelEvent) => void {
  return (event) => {
    if (event.type !== 'streamspace.agent_key_changed') return;
    const data = (event.data ?? {}) as { agent_id?: string };
    if (data.agent_id) void hub.keyChanged(data.agent_id).catch((err: unknown) => log.warn({ err }, 'could not check agent keys'));
  };
}
