import { defineInvariant, type Invariant } from '../../src/plugin-api/index.ts';

/**
 * A dev container's vmid is allocated in the transaction that creates its instance
 * (vmids.ts), so the two exist together; the vmid names its IDE origin (`dev-<vmid>`).
 */
const containerWithoutVmid = defineInvariant({
  id: 'dev.container-without-vmid',
  title: 'every dev container has its vmid',
  explanation: 'Without a dev_containers row a container has no IDE host name (dev-<vmid>): its IDE links and proxy answer 404, and the instance was created half-way.',
  remedy: 'Delete the container (DELETE /api/dev/:id) and create it again; report the row, since the vmid is written with the instance.',
  async offending({ db }) {
    const rows = await db('instances as i')
      .where({ 'i.plugin': 'dev' })
      .whereNot('i.lifecycle', 'deleting')
      .whereNotExists(db('dev_containers as d').whereRaw('d.instance_id = i.id'))
      .orderBy('i.created_at')
      .select<Array<{ id: string }>>('i.id');
    return rows.map((r) => r.id);
  },
});

/** The dev plugin's invariants, for `npm run check-invariants`. */
export const devInvariants: readonly Invariant[] = [containerWithoutVmid];
