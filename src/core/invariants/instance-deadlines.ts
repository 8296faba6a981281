import { defineInvariant, intervalOf } from './invariant.ts';

/**
 * Provisioning and deletion are the core's transitional lifecycles, each bounded: provisioning
 * by `provision_deadline` (then `failed`), deletion by the work lease (another replica, or the
 * next start, takes it over once it runs out). `restoring_backup` belongs to the game plugin,
 * which checks it against its restore records.
 */
export const instancePastDeadline = defineInvariant({
  id: 'core.instance-past-deadline',
  title: 'no instance is still provisioning past its deadline, or deleting with no live work lease',
  explanation:
    'Provisioning ends by its deadline (active or failed) and deletion is driven under a work lease that another replica or the next start takes over. A row past both was abandoned: nobody is driving it, and the user sees it stuck.',
  remedy:
    'Start (or keep running) an API replica: it resumes orphaned work at start and every minute (core.instance-work). If the rows stay, read the server log for "instance work failed" with their instance_id.',
  async offending({ db, graceMs }) {
    const rows = await db.raw<{ rows: Array<{ id: string }> }>(
      `SELECT id FROM instances
        WHERE (lifecycle = 'provisioning' AND provision_deadline < now() - ?::interval
                 AND (worker_lease_until IS NULL OR worker_lease_until < now() - ?::interval))
           OR (lifecycle = 'deleting' AND updated_at < now() - ?::interval
                 AND (worker_lease_until IS NULL OR worker_lease_until < now() - ?::interval))
        ORDER BY created_at, id`,
      [intervalOf(graceMs), intervalOf(graceMs), intervalOf(graceMs), intervalOf(graceMs)],
    );
    return rows.rows.map((r) => r.id);
  },
});
