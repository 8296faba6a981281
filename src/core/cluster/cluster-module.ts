import type { Knex } from 'knex';
import type { CoreModule } from '../boot/core-module.ts';
import type { Logger } from '../log/logger.ts';
import { ReplicaRegistry } from './replica-registry.ts';

export interface ClusterModule extends CoreModule {
  replicas: ReplicaRegistry;
}

/**
 * This replica among the others: the replica registry. It starts before anything that splits
 * work among replicas (the poller) and stops after it, so this replica's share is never
 * computed without its own row.
 */
export function createClusterModule(options: { db: Knex; log: Logger; replicaId: string; internalUrl: () => string | null; lockUrl: string | null }): ClusterModule {
  const replicas = new ReplicaRegistry({ db: options.db, log: options.log.child({ component: 'replicas' }), replicaId: options.replicaId, internalUrl: options.internalUrl, lockUrl: options.lockUrl });
  return {
    name: 'cluster',
    replicas,
    start: () => replicas.start(),
    stop: () => replicas.stop(),
  };
}
