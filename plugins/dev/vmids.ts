import type { Knex } from 'knex';
import { AppError } from '../../src/plugin-api/index.ts';

/**
 * Allocates a container's vmid inside the transaction that creates it, under a lock, so two
 * creations never get the same one. New vmids count upwards (an IDE origin is not handed to
 * a new tenant while higher numbers are free); only a full range falls back to the gaps.
 */
export async function allocateVmid(trx: Knex.Transaction, instanceId: string, min: number, max: number): Promise<number> {
  await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', ['dev_vmids']);
  const top = await trx('dev_containers').max<{ max: number | null }>('vmid as max').first();
  let vmid: number | null = top?.max === null || top?.max === undefined ? min : top.max + 1;
  if (vmid > max || vmid < min) {
    const gap = await trx.raw<{ rows: Array<{ vmid: number | null }> }>(
      `SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM dev_containers WHERE vmid = ?) THEN ?::int
              ELSE (SELECT d.vmid + 1 FROM dev_containers d
                     WHERE d.vmid >= ? AND d.vmid < ? AND NOT EXISTS (SELECT 1 FROM dev_containers e WHERE e.vmid = d.vmid + 1)
                     ORDER BY d.vmid LIMIT 1) END AS vmid`,
      [min, min, min, max],
    );
    vmid = gap.rows[0]?.vmid ?? null;
  }
  if (vmid === null) throw new AppError(503, 'VMID_RANGE_EXHAUSTED', 'No vmid left', 'Every vmid in the configured range is in use; ask an operator to widen it', { min, max });
  // A vmid used before (by a container since deleted) is an IDE origin browsers may hold state for.
  const fresh = await trx('dev_vmids_used').insert({ vmid }).onConflict('vmid').ignore().returning('vmid');
  await trx('dev_containers').insert({ instance_id: instanceId, vmid, clear_site_data: fresh.length === 0 });
  return vmid;
}

/**
 * Whether this IDE answer must clear the origin's site data, true once per container whose
 * vmid was used before: the previous tenant's service workers, caches and storage on
 * `dev-<vmid>` must not serve the new one. Taken atomically, so two first answers do not both clear.
 */
export async function takeSiteDataClear(db: Knex, instanceId: string): Promise<boolean> {
  const taken = await db('dev_containers').where({ instance_id: instanceId, clear_site_data: true }).update({ clear_site_data: false }).returning('instance_id');
  return taken.length > 0;
}

/** vmids of the given containers. */
export async function vmidsOf(db: Knex, ids: readonly string[]): Promise<Map<string, number>> {
  if (ids.length === 0) return new Map();
  const rows = await db('dev_containers').whereIn('instance_id', ids).select<Array<{ instance_id: string; vmid: number }>>('instance_id', 'vmid');
  return new Map(rows.map((r) => [r.instance_id, r.vmid]));
}

export async function instanceOfVmid(db: Knex, vmid: number): Promise<string | null> {
  const row = await db('dev_containers').where({ vmid }).first<{ instance_id: string } | undefined>('instance_id');
  return row?.instance_id ?? null;
}
