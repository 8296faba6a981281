import type { Knex } from 'knex';
import type { JobDefinition } from '../../jobs/job.ts';
import type { LocalProvisioner } from '../local-provisioner.ts';

/** Restarts reference agents of local instances that died (a crash, a reboot of the host). */
export function reviveLocalAgentsJob(db: Knex, local: LocalProvisioner): JobDefinition {
  return {
    id: 'core.local-agents',
    every_ms: 15_000,
    timeout_ms: 30_000,
    once_across_replicas: false,

    run: async ({ log }) => {
      const rows = await db('instances')
        .where({ provisioner: 'local' })
        .whereIn('lifecycle', ['active', 'suspended', 'restoring_backup'])
        .select<Array<{ id: string; spec: Record<string, unknown> }>>('id', 'spec');
      const revived = await local.revive(rows);
      if (revived > 0) log.warn({ revived }, 'restarted local agents that had died');
    },
  };
}
