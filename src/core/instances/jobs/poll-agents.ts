import type { JobDefinition } from '../../jobs/job.ts';
import type { Poller } from '../poller.ts';

/** Every second: the poller's heartbeat, reload and due polls (each replica its own share). */
export function pollAgentsJob(poller: Poller): JobDefinition {
  return { id: 'core.poll-agents', every_ms: 1_000, timeout_ms: 30_000, once_across_replicas: false, run: () => poller.tick() };
}
