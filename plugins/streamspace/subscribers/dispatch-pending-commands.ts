import type { Events, Logger } from '../../../src/plugin-api/index.ts';
import type { AgentHub } from '../agents/agent-hub.ts';
import type { Commands } from '../agents/commands.ts';
import { commandsPending } from '../events.ts';

/** Work was written for an agent another replica could not reach: the replica holding it sends it. */
export function dispatchPendingCommands(events: Events, { hub, commands, log }: { hub: AgentHub; commands: Commands; log: Logger }): () => void {
  return events.on(commandsPending, ({ data }) => {
    if (hub.isLocal(data.agent_id)) void commands.dispatch(data.agent_id).catch((err: unknown) => log.warn({ err }, 'dispatch failed'));
  });
}
