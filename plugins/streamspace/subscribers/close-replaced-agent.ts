import type { Events, Logger } from '../../../src/plugin-api/index.ts';
import type { AgentHub } from '../agents/agent-hub.ts';
import { agentReplaced } from '../events.ts';

/** Another replica registered the agent: our connection to it goes (unless it is the current one after all). */
export function closeReplacedAgent(events: Events, { hub, log }: { hub: AgentHub; log: Logger }): () => void {
  return events.on(agentReplaced, ({ data }) => void hub.replacedElsewhere(data.agent_id).catch((err: unknown) => log.warn({ err }, 'could not check a replaced agent')));
}
