import type { Knex } from 'knex';
import { replicaStaleSeconds } from '../cluster/replica-registry.ts';
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

/** This replica's share: `fingerprint` changes whenever any row of it (or the share itself) does. */
export interface Share {
  fingerprint: string;
  count: number;
}

// An even split by hash among the live replicas of the registry, recomputed on every read.
const shareSql = (columns: string): string => `WITH live AS (
       SELECT id, row_number() OVER (ORDER BY id) - 1 AS rank, count(*) OVER () AS n
         FROM replicas WHERE heartbeat_at > now() - interval '${replicaStaleSeconds} seconds')
     SELECT ${columns}
       FROM instances i JOIN live ON live.id = ?
      WHERE i.agent_base_url IS NOT NULL AND i.lifecycle = ANY(?)
        AND mod(hashtext(i.id::text)::bigint + 2147483648, live.n) = live.rank`;

/**
 * Fingerprints this replica's share of the polled instances: every field the poller holds of a
 * row (owner, kind and plugin never change), in id order. Reading a fingerprint is one short
 * row; reading the share is thousands, so it is read only when this changes. The replica's own
 * registry row (src/core/cluster) must exist: without it the share is empty.
 */
export async function fingerprintShare(db: Knex, replicaId: string): Promise<Share> {
  const result = await db.raw<{ rows: Array<{ fingerprint: string | null; count: string | number }> }>(
    shareSql(`coalesce(md5(string_agg(i.id::text || ' ' || i.lifecycle || ' ' || i.agent_base_url || ' ' || i.agent_token_encrypted, ' ' ORDER BY i.id)), '') AS fingerprint, count(*) AS count`),
    [replicaId, polledLifecycles],
  );
  const row = result.rows[0];
  return { fingerprint: row?.fingerprint ?? '', count: Number(row?.count ?? 0) };
}

/** This replica's share of the polled instances (see fingerprintShare). */
export async function readShare(db: Knex, replicaId: string): Promise<PolledRow[]> {
  const result = await db.raw<{ rows: PolledRow[] }>(
    shareSql('i.id, i.owner_id, i.kind, i.plugin, i.lifecycle, i.agent_base_url, i.agent_token_encrypted'),
    [replicaId, polledLifecycles],
  );
  return result.rows;
}
