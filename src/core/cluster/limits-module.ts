import type { Knex } from 'knex';
import type { CoreModule } from '../boot/core-module.ts';
import type { Logger } from '../log/logger.ts';
import type { Limits, SlotCap } from '../../plugin-api/limits.ts';
import type { ReplicaRegistry } from './replica-registry.ts';
import { SocketSlots } from './socket-slots.ts';
import { SharedTokenBuckets } from './shared-token-buckets.ts';
import { pruneTokenBucketsJob } from './prune-token-buckets-job.ts';

export interface LimitsModule extends CoreModule {
  slots: SocketSlots;
  buckets: SharedTokenBuckets;
  /** A plugin's view: its keys prefixed with its id, so plugins never share a count by accident. */
  forPlugin(pluginId: string): Limits;
}

/**
 * Socket caps and message rates every replica counts against, in PostgreSQL. Built after the
 * replica registry (slots are tagged with this replica and counted only while it is live) and
 * stopped before it, so a clean stop frees this replica's slots before its row goes.
 */
export function createLimitsModule(options: { db: Knex; log: Logger; replicas: ReplicaRegistry; databaseUp?: () => boolean }): LimitsModule {
  const slots = new SocketSlots({ db: options.db, log: options.log.child({ component: 'socket-slots' }), replicaId: options.replicas.replicaId });
  const buckets = new SharedTokenBuckets(options.db, {}, options.databaseUp);
  options.replicas.onHeartbeat((beat) => slots.afterHeartbeat(beat));
  return {
    name: 'limits',
    slots,
    buckets,
    forPlugin: (pluginId) => ({
      acquireSlot: async (caps, connection) => {
        const byKey = new Map<string, SlotCap>(caps.map((cap) => [`${pluginId}:${cap.key}`, cap]));
        const result = await slots.acquire(
          [...byKey].map(([key, cap]) => ({ key, limit: cap.limit })),
          connection,
        );
        return result.ok ? result : { ok: false, cap: byKey.get(result.cap.key) ?? result.cap, held: result.held };
      },
      takeToken: (key, rule) => buckets.take(`${pluginId}:${key}`, rule),
    }),
    jobs: [pruneTokenBucketsJob(buckets)],
    stop: () => slots.stop(),
  };
}
