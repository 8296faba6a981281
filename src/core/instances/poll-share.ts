import type { Knex } from 'knex';
import { withAgentLifecycles, type Lifecycle } from './instance-state.ts';

/** Lifecycles whose agents are polled; provisioning is driven by the provisioner itself. */
export const polledLifecycles: Lifecycle[] = [...withAgentLifecycles];

export interface PolledRow {
  id: string;
  owner_id: string;
  kind: string;
  plugin: string;
  lifecycle: Lifecycle;
  agent_base_url: string;
  agent_token_encrypted: string;
}

/**
 * Records this replica as alive and reads its share of the polled instances: an even split by
 * hash among the replicas that heart-beat in the last 15 seconds, recomputed on every read.
 */
export async function heartbeatAndReadShare(db: Knex, replicaId: string): Promise<PolledRow[]> {
  await db.raw(`INSERT INTO replicas (id, heartbeat_at) VALUES (?, now()) ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()`, [replicaId]);
  const result = await db.raw<{ rows: PolledRow[] }>(
    `WITH live AS (
       SELECT id, row_number() OVER (ORDER BY id) - 1 AS rank, count(*) OVER () AS n
         FROM replicas WHERE heartbeat_at > now() - interval '15 seconds')
     SELECT i.id, i.owner_id, i.kind, i.plugin, i.lifecycle, i.agent_base_url, i.agent_token_encrypted
       FROM instances i JOIN live ON live.id = ?
      WHERE i.agent_base_url IS NOT NULL AND i.lifecycle = ANY(?)
        AND mod(hashtext(i.id::text)::bigint + 2147483648, live.n) = live.rank`,
    [replicaId, polledLifecycles],
  );
  return result.rows;
}
