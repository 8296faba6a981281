import type { Knex } from 'knex';
import type { CoreModule } from '../boot/core-module.ts';
import type { Logger } from '../log/logger.ts';
import type { MountedWebSocketRoute } from '../ws/websocket-route.ts';
import { ReplicaRegistry } from './replica-registry.ts';
import { ReplicaRelay, relayPath } from './replica-relay.ts';

export interface ClusterModule extends CoreModule {
  replicas: ReplicaRegistry;
  relay: ReplicaRelay;
  /** The relay endpoint the other replicas connect to. */
  websockets: MountedWebSocketRoute[];
}

/**
 * This replica among the others: the replica registry. It starts before anything that splits
 * work among replicas (the poller) and stops after it, so this replica's share is never
 * computed without its own row. Relays to the other replicas (src/plugin-api/cluster.ts) find
 * them through it.
 */
export function createClusterModule(options: { db: Knex; log: Logger; replicaId: string; internalUrl: () => string | null; lockUrl: string | null; secret: string }): ClusterModule {
  const replicas = new ReplicaRegistry({ db: options.db, log: options.log.child({ component: 'replicas' }), replicaId: options.replicaId, internalUrl: options.internalUrl, lockUrl: options.lockUrl });
  const relay = new ReplicaRelay({ registry: replicas, secret: options.secret, log: options.log.child({ component: 'relay' }) });
  return {
    name: 'cluster',
    replicas,
    relay,
    websockets: [{ owner: 'core', fullPath: relayPath, route: relay.route() }],
    start: () => replicas.start(),
    stop: () => replicas.stop(),
  };
}
