import type { Knex } from 'knex';
import type { SecretBox } from '../crypto/secret-box.ts';
import { AppError, NotFoundError } from '../http/errors.ts';
import { fetchPage } from '../http/pagination.ts';
import type { AgentTarget } from '../agent/agent-client.ts';
import type { InstanceState, Lifecycle } from './instance-state.ts';
import type { Poller } from './poller.ts';
import { InstanceWork, type InstanceWorkOptions } from './instance-work.ts';
import { InstanceRecords, type Instance, type InstanceRow, type InstanceSettings, type NewInstance } from './instance-records.ts';
import type { Instances } from '../../plugin-api/instances.ts';

export type { Instance, InstanceRow, InstanceSettings, NewInstance } from './instance-records.ts';

/** The owner's plan allows no more instances of this kind. */
export class PlanLimitError extends AppError {
  constructor(kind: string, limit: number, used: number) {
    super(402, 'PLAN_LIMIT_REACHED', 'Plan limit reached', `Your plan allows ${limit} ${kind} instance${limit === 1 ? '' : 's'} and you have ${used}; delete one or upgrade your plan`, {
      kind,
      limit,
      used,
    });
  }
}

/**
 * Instances (game servers, dev containers) in the core: records with their normalized
 * state, for plugins to create, read, list and delete. Creating records the instance in
 * `provisioning` and deleting marks it `deleting`, each with its event in the same
 * transaction; InstanceWork then drives them in the background.
 */
export type InstanceServiceOptions = Omit<InstanceWorkOptions, 'records'> & {
  /** The provisioner new instances get (`provisioner` in config). */
  defaultProvisioner: string;
};

export class InstanceService implements Instances {
  private readonly db: Knex;
  private readonly box: SecretBox;
  private readonly poller: Poller;
  private readonly defaultProvisioner: string;
  private readonly settings: InstanceSettings;
  private readonly replicaId: string;
  private readonly records: InstanceRecords;
  private readonly work: InstanceWork;
  private readonly log: InstanceServiceOptions['log'];

  constructor(options: InstanceServiceOptions) {
    ({ db: this.db, box: this.box, poller: this.poller, defaultProvisioner: this.defaultProvisioner, settings: this.settings, replicaId: this.replicaId, log: this.log } = options);
    this.records = new InstanceRecords(options.db, options.poller, options.bus, options.settings.pollIntervalMs);
    this.work = new InstanceWork({ ...options, records: this.records });
  }

  present(row: InstanceRow): Instance {
    return this.records.present(row);
  }

  async row(id: string): Promise<InstanceRow | undefined> {
    return this.records.row(id);
  }

  /** The instance if it exists and `ownerId` may see it (null: admins, who see all); else NotFound. */
  async get(id: string, ownerId: string | null, resource = 'instance'): Promise<Instance> {
    const row = await this.row(id);
    if (!row || (ownerId !== null && row.owner_id !== ownerId)) throw new NotFoundError(resource, id);
    return this.present(row);
  }

  /** `status` filters on the last stored poll (what every replica agrees on), not this replica's cache. */
  async list(filter: { plugin?: string; ownerId?: string; lifecycle?: Lifecycle; status?: InstanceState['status']; page: number; limit: number }): Promise<{ items: Instance[]; total: number }> {
    const base = this.db('instances').modify((q) => {
      if (filter.plugin) void q.where({ plugin: filter.plugin });
      if (filter.ownerId) void q.where({ owner_id: filter.ownerId });
      if (filter.lifecycle) void q.where({ lifecycle: filter.lifecycle });
      if (filter.status === 'unknown') void q.whereRaw(`coalesce(state->>'status', 'unknown') = 'unknown'`);
      else if (filter.status) void q.whereRaw(`state->>'status' = ?`, [filter.status]);
    });
    const { rows, total } = await fetchPage<InstanceRow>(base, filter.page, filter.limit, (q) => q.orderBy('created_at', 'desc').orderBy('id').select('*'));
    return { items: rows.map((r) => this.present(r)), total };
  }

  async countFor(ownerId: string, plugin: string): Promise<number> {
    const rows = await this.db('instances').where({ owner_id: ownerId, plugin }).whereNot({ lifecycle: 'deleting' }).count<Array<{ n: string | number }>>('* as n');
    return Number(rows[0]?.n ?? 0);
  }

  /** Where to reach the instance's agent; only for instances the caller already checked. */
  async target(id: string): Promise<AgentTarget> {
    const row = await this.row(id);
    if (!row || !row.agent_base_url || !row.agent_token_encrypted) throw new NotFoundError('instance', id);
    return { baseUrl: row.agent_base_url, token: this.box.open(row.agent_token_encrypted) };
  }

  /**
   * Records the instance in `provisioning` and starts provisioning it in the background.
   * `maxForOwner` (the plan's limit for this kind) is checked under a per-owner lock, so
   * concurrent creations cannot overshoot it; `withinTransaction` adds the plugin's own rows.
   */
  async create(input: NewInstance, options: { maxForOwner?: number | null; withinTransaction?: (trx: Knex.Transaction, instanceId: string) => Promise<void> } = {}): Promise<Instance> {
    const provisioner = this.defaultProvisioner;
    const created = await this.db.transaction(async (trx) => {
      const max = options.maxForOwner;
      if (max !== undefined && max !== null) {
        await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`instances:${input.ownerId}:${input.kind}`]);
        const rows = await trx('instances').where({ owner_id: input.ownerId, kind: input.kind }).whereNot({ lifecycle: 'deleting' }).count<Array<{ n: string | number }>>('* as n');
        const used = Number(rows[0]?.n ?? 0);
        if (used >= max) throw new PlanLimitError(input.kind, max, used);
      }
      const [row] = await trx('instances')
        .insert({
          owner_id: input.ownerId,
          kind: input.kind,
          plugin: input.plugin,
          name: input.name,
          spec: JSON.stringify(input.spec ?? {}),
          lifecycle: 'provisioning',
          provisioner,
          provision_deadline: new Date(Date.now() + this.settings.provisionDeadlineMs),
          worker_id: this.replicaId,
          worker_lease_until: new Date(Date.now() + this.settings.leaseMs),
        })
        .returning<InstanceRow[]>('*');
      if (!row) throw new Error('INSERT ... RETURNING gave no row');
      // The plugin's own rows (a vmid, say) commit with the instance or not at all.
      if (options.withinTransaction) await options.withinTransaction(trx, row.id);
      await this.announce(row, trx);
      return row;
    });
    this.work.start(created.id, 'provision');
    return this.present(created);
  }

  /** Marks the instance `deleting` and releases its agent in the background; the row goes when that is done. */
  async remove(id: string): Promise<void> {
    const marked = await this.db.transaction(async (trx) => {
      const [row] = await trx('instances')
        .where({ id })
        .whereNot({ lifecycle: 'deleting' })
        .update({ lifecycle: 'deleting', worker_id: this.replicaId, worker_lease_until: new Date(Date.now() + this.settings.leaseMs), updated_at: trx.fn.now() })
        .returning<InstanceRow[]>('*');
      if (row) await this.announce(row, trx);
      return row;
    });
    if (marked) this.work.start(id, 'delete');
  }

  /**
   * Changes the panel's lifecycle (restoring_backup, suspended...) and tells the portal. With
   * `from`, only out of those lifecycles: the compare-and-set that lets one restore in and
   * refuses the second. False when nothing changed.
   */
  async setLifecycle(id: string, lifecycle: Lifecycle, reason: string | null = null, from?: readonly Lifecycle[]): Promise<boolean> {
    const changed = await this.db.transaction(async (trx) => {
      // Never out of `deleting`: a late "restore done" must not resurrect an instance being deleted.
      const [row] = await trx('instances')
        .where({ id })
        .whereNot({ lifecycle: 'deleting' })
        .modify((q) => {
          if (from) void q.whereIn('lifecycle', from);
        })
        .update({ lifecycle, lifecycle_reason: reason, updated_at: trx.fn.now() })
        .returning<InstanceRow[]>('*');
      if (row) await this.announce(row, trx);
      return row !== undefined;
    });
    await this.poller.reload();
    return changed;
  }

  /** Read-your-writes after an action (power, IDE, restore, suspension): see Instances.confirmAction. */
  async confirmAction(id: string): Promise<void> {
    await this.poller.confirm(id).catch((err: unknown) => this.log.warn({ err, instance_id: id }, 'could not confirm an action with the agent; the next poll will'));
    this.poller.pollLater(id);
  }

  /** Polls the instance now (after a power action) and resolves once its cached state is fresh. */
  async refresh(id: string): Promise<Instance> {
    await this.poller.pollNow(id);
    const row = await this.row(id);
    if (!row) throw new NotFoundError('instance', id);
    return this.present(row);
  }

  async announce(row: InstanceRow, trx?: Knex.Transaction): Promise<void> {
    await this.records.announce(row, trx);
  }

  /** Takes over provisioning and deletion whose lease ran out (a replica died, or this one restarted). */
  resumeOrphans(): Promise<number> {
    return this.work.resumeOrphans();
  }

  /** Stops background work and gives its leases back, so the next start takes over at once. */
  stop(): Promise<void> {
    return this.work.stop();
  }
}
