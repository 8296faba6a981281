import type { Logger, PanelEvent } from '../../../src/plugin-api/index.ts';
import type { AgentHub } from '../agents/agent-hub.ts';
import type { Commands } from '../agents/commands.ts';

export interface DispatchPendingCommandsOptions {
  hub: AgentHub;
  commands: Commands;
  log: Logger;
}

/** `streamspace.commands_pending`: work was written for an agent another replica could not reach; the replica holding it sends it. */
export function dispatchPendingCommands({ hub, commands, log }: DispatchPendingCommandsOptions): (event: PanelEvent) => void {
  return (event) => {
    if (event.type !== 'streamspace.commands_pending') return;
    const data = (event.data ?? {}) as { agent_id?: string };
    if (data.agent_id && hub.isLocal(data.agent_id)) void commands.dispatch(data.agent_id).catch((err: unknown) => log.warn({ err }, 'dispatch failed'));
  };
}
