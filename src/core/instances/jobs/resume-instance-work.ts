import type { JobDefinition } from '../../jobs/job.ts';
import type { InstanceService } from '../instance-service.ts';

/** Takes over provisioning and deletion whose lease ran out (a replica died mid-way). */
export function resumeInstanceWorkJob(instances: InstanceService): JobDefinition {
  return { id: 'core.instance-work', every_ms: 5_000, timeout_ms: 30_000, once_across_replicas: false, run: async () => void (await instances.resumeOrphans()) };
}
