import type { Knex } from 'knex';
import { liveReplicaSql } from '../cluster/replica-registry.ts';
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

/**
 * Rendezvous (highest-random-weight) hashing among the live replicas of the registry: an
 * instance belongs to the live replica whose hash of (instance id, replica id) is highest.
 * Every replica computes the same owner from the same registry rows, the split is even in
 * expectation, and when a replica leaves or joins only the instances it had or gets move: the
 * others keep theirs, with their poll schedules (a modulo of the live count would re-deal most
 * instances between the survivors too, each move a chance of a gap or a double poll).
 */
const shareSql = (columns: string): string => `WITH live AS (SELECT r.id FROM replicas r WHERE ${liveReplicaSql})
     SELECT ${columns}
       FROM instances i JOIN live me ON me.id = ?
      WHERE i.agent_base_url IS NOT NULL AND i.lifecycle = ANY(?)
        AND NOT EXISTS (
          SELECT 1 FROM live other
           WHERE (hashtext(i.id::text || other.id), other.id) > (hashtext(i.id::text || me.id), me.id))`;

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
  const result = await db.raw<{ rows: PolledRow[] }>(shareSql('i.id, i.owner_id, i.kind, i.plugin, i.lifecycle, i.agent_base_url, i.agent_token_encrypted'), [replicaId, polledLifecycles]);
  return result.rows;
}
