import type { JobDefinition } from '../../jobs/job.ts';
import type { EventBus } from '../event-bus.ts';

/** Keeps the events table bounded (Last-Event-ID resume needs only recent events). */
export function pruneEventsJob(bus: EventBus, retentionRows: number): JobDefinition {
  return { id: 'core.events-prune', every_ms: 10 * 60_000, timeout_ms: 60_000, once_across_replicas: true, run: () => bus.prune(retentionRows) };
}
