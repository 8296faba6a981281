import type { Events, Logger } from '../../../src/plugin-api/index.ts';
import type { AgentHub } from '../agents/agent-hub.ts';
import { agentKeyChanged } from '../events.ts';

/** A key was rotated or revoked: connections opened with another key close. */
export function closeRekeyedAgent(events: Events, { hub, log }: { hub: AgentHub; log: Logger }): () => void {
  return events.on(agentKeyChanged, ({ data }) => void hub.keyChanged(data.agent_id).catch((err: unknown) => log.warn({ err }, 'could not check agent keys')));
}
