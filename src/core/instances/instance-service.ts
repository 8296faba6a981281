import { setTimeout as sleep } from 'node:timers/promises';
import type { Knex } from 'knex';
import type { Logger } from '../log/logger.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { AppError, NotFoundError } from '../http/errors.ts';
import type { AgentClient, AgentTarget } from '../agent/agent-client.ts';
import { getAgentReady, isAgentReadyResult, notReadyReason } from '../agent/readiness.ts';
import type { EventBus } from '../events/event-bus.ts';
import { emptyPolledState, presentState, type InstanceState, type Lifecycle, type PolledState } from './instance-state.ts';
import type { Poller } from './poller.ts';
import type { Provisioner } from './provisioner.ts';

export interface InstanceRow {
  id: string;
  owner_id: string;
  kind: string;
  plugin: string;
  name: string;
  lifecycle: Lifecycle;
  lifecycle_reason: string | null;
  provisioner: string;
  allocation: Record<string, unknown>;
  agent_base_url: string | null;
  agent_token_encrypted: string | null;
  spec: Record<string, unknown>;
  state: Partial<PolledState>;
  provision_deadline: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** An instance as plugins see it: never the agent token. */
export interface Instance {
  id: string;
  ownerId: string;
  kind: string;
  plugin: string;
  name: string;
  spec: Record<string, unknown>;
  lifecycleReason: string | null;
  createdAt: string;
  updatedAt: string;
  state: InstanceState;
}

export interface NewInstance {
  ownerId: string;
  kind: string;
  plugin: string;
  name: string;
  spec?: Record<string, unknown>;
}

export interface InstanceSettings {
  pollIntervalMs: number;
  provisionDeadlineMs: number;
  /** How long a replica holds provisioning or deletion work before another may take it over. */
  leaseMs: number;
  /** Pause between readiness checks while provisioning. */
  readyRetryMs: number;
}

/**
 * Instances (game servers, dev containers) in the core. Provisioning is asynchronous and
 * survives crashes: the record is created in `provisioning`, the agent allocation is stored
 * with it in one transaction, readiness is checked (semantically) until a deadline, and only
 * then is it `active`, stored and published; on the deadline it is `failed` and the agent is
 * released. Work in progress is held by a lease, so a replica that dies mid-way is replaced.
 */
export class InstanceService {
  private readonly running = new Set<string>();
  private stopping = false;

  constructor(
    private readonly db: Knex,
    private readonly box: SecretBox,
    private readonly client: AgentClient,
    private readonly bus: EventBus,
    private readonly poller: Poller,
    private readonly provisioners: ReadonlyMap<string, Provisioner>,
    private readonly defaultProvisioner: string,
    private readonly settings: InstanceSettings,
    private readonly replicaId: string,
    private readonly log: Logger,
  ) {}

  present(row: InstanceRow): Instance {
    const polled = this.poller.cached(row.id) ?? { ...emptyPolledState, ...row.state };
    return {
      id: row.id,
      ownerId: row.owner_id,
      kind: row.kind,
      plugin: row.plugin,
      name: row.name,
      spec: row.spec,
      lifecycleReason: row.lifecycle_reason,
      createdAt: new Date(row.created_at).toISOString(),
      updatedAt: new Date(row.updated_at).toISOString(),
      state: presentState(row.lifecycle, polled, this.settings.pollIntervalMs),
    };
  }

  async row(id: string): Promise<InstanceRow | undefined> {
    return this.db('instances').where({ id }).first<InstanceRow | undefined>();
  }

  /** The instance if it exists and `ownerId` may see it (null: admins, who see all); else NotFound. */
  async get(id: string, ownerId: string | null, resource = 'instance'): Promise<Instance> {
    const row = await this.row(id);
    if (!row || (ownerId !== null && row.owner_id !== ownerId)) throw new NotFoundError(resource, id);
    return this.present(row);
  }

  async list(filter: { plugin?: string; ownerId?: string; lifecycle?: Lifecycle; page: number; limit: number }): Promise<{ items: Instance[]; total: number }> {
    const base = this.db('instances').modify((q) => {
      if (filter.plugin) void q.where({ plugin: filter.plugin });
      if (filter.ownerId) void q.where({ owner_id: filter.ownerId });
      if (filter.lifecycle) void q.where({ lifecycle: filter.lifecycle });
    });
    const [rows, count] = await Promise.all([
      base.clone().orderBy('created_at', 'desc').orderBy('id').limit(filter.limit).offset((filter.page - 1) * filter.limit).select<InstanceRow[]>('*'),
      base.clone().count<Array<{ n: string | number }>>('* as n'),
    ]);
    return { items: rows.map((r) => this.present(r)), total: Number(count[0]?.n ?? 0) };
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

  /** Records the instance in `provisioning` and starts provisioning it in the background. */
  async create(input: NewInstance): Promise<Instance> {
    const provisioner = this.defaultProvisioner;
    const created = await this.db.transaction(async (trx) => {
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
      await this.announce(row as InstanceRow, trx);
      return row as InstanceRow;
    });
    this.startWork(created.id, 'provision');
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
    if (marked) this.startWork(id, 'delete');
  }

  /** Changes the panel's lifecycle (restoring_backup, suspended...) and tells the portal. */
  async setLifecycle(id: string, lifecycle: Lifecycle, reason: string | null = null): Promise<void> {
    await this.db.transaction(async (trx) => {
      const [row] = await trx('instances').where({ id }).update({ lifecycle, lifecycle_reason: reason, updated_at: trx.fn.now() }).returning<InstanceRow[]>('*');
      if (row) await this.announce(row, trx);
    });
    await this.poller.reload();
  }

  /** Publishes the instance's state; inside `trx` the event commits (or not) with the change itself. */
  private async announce(row: InstanceRow, trx?: Knex.Transaction): Promise<void> {
    const instance = this.present(row);
    await this.bus.publish('instance.state', row.owner_id, { instance_id: row.id, kind: row.kind, plugin: row.plugin, state: instance.state, reason: row.lifecycle_reason }, trx);
  }

  private startWork(id: string, kind: 'provision' | 'delete'): void {
    if (this.running.has(id) || this.stopping) return;
    this.running.add(id);
    const work = kind === 'provision' ? this.provision(id) : this.deprovision(id);
    void work
      .catch((err: unknown) => this.log.error({ err, instance_id: id, work: kind }, 'instance work failed; another pass will retry'))
      .finally(() => this.running.delete(id));
  }

  /** Takes over provisioning and deletion whose lease ran out (a replica died, or this one restarted). */
  async resumeOrphans(): Promise<number> {
    const claimed = await this.db.raw<{ rows: Array<{ id: string; lifecycle: Lifecycle }> }>(
      `UPDATE instances SET worker_id = ?, worker_lease_until = now() + make_interval(secs => ?)
        WHERE id IN (SELECT id FROM instances WHERE lifecycle IN ('provisioning', 'deleting')
                       AND (worker_lease_until IS NULL OR worker_lease_until < now()) LIMIT 100 FOR UPDATE SKIP LOCKED)
        RETURNING id, lifecycle`,
      [this.replicaId, this.settings.leaseMs / 1000],
    );
    for (const row of claimed.rows) this.startWork(row.id, row.lifecycle === 'provisioning' ? 'provision' : 'delete');
    return claimed.rows.length;
  }

  private async renewLease(id: string): Promise<boolean> {
    const n = await this.db('instances').where({ id, worker_id: this.replicaId }).update({ worker_lease_until: new Date(Date.now() + this.settings.leaseMs) });
    return n > 0;
  }

  private async provision(id: string): Promise<void> {
    let row = await this.row(id);
    if (!row || row.lifecycle !== 'provisioning') return;
    const provisioner = this.provisioners.get(row.provisioner);
    const deadline = row.provision_deadline ? new Date(row.provision_deadline).getTime() : Date.now();
    if (!provisioner) return this.fail(row, `provisioner "${row.provisioner}" is not available on this server`);
    if (!row.agent_base_url) {
      const before: InstanceRow = row;
      try {
        row = await this.db.transaction(async (trx) => {
          const current = before;
          const allocation = await provisioner.allocate({ id, kind: current.kind, spec: current.spec, allocation: current.allocation }, trx);
          const [updated] = await trx('instances')
            .where({ id, lifecycle: 'provisioning' })
            .update({ agent_base_url: allocation.baseUrl, agent_token_encrypted: this.box.seal(allocation.token), allocation: JSON.stringify(allocation.data), updated_at: trx.fn.now() })
            .returning<InstanceRow[]>('*');
          return updated;
        });
      } catch (err) {
        return this.fail(before, err instanceof AppError ? err.message : 'could not allocate an agent');
      }
      if (!row) return;
    }
    const target: AgentTarget = { baseUrl: row.agent_base_url as string, token: this.box.open(row.agent_token_encrypted as string) };
    let reason = 'the agent never became ready';
    while (!this.stopping && Date.now() < deadline) {
      const result = await getAgentReady(this.client, target, { ignoreBreaker: true });
      if (isAgentReadyResult(result)) {
        // Active together with a first full state, so nobody ever sees an active instance with no state.
        const state = await this.poller.probe(target);
        const active = await this.db.transaction(async (trx) => {
          const [updated] = await trx('instances')
            .where({ id, lifecycle: 'provisioning' })
            .update({ lifecycle: 'active', lifecycle_reason: null, state: JSON.stringify(state), worker_id: null, worker_lease_until: null, updated_at: trx.fn.now() })
            .returning<InstanceRow[]>('*');
          if (updated) await this.announce(updated, trx);
          return updated;
        });
        if (active) await this.poller.reload();
        return;
      }
      reason = `the agent never became ready (${notReadyReason(result)})`;
      if (!(await this.renewLease(id))) return; // someone else took over
      await sleep(this.settings.readyRetryMs);
    }
    if (this.stopping) return;
    const current = await this.row(id);
    if (current?.lifecycle === 'provisioning') await this.fail(current, reason);
  }

  private async fail(row: InstanceRow, reason: string): Promise<void> {
    const provisioner = this.provisioners.get(row.provisioner);
    if (provisioner && row.agent_base_url) await provisioner.release({ id: row.id, kind: row.kind, spec: row.spec, allocation: row.allocation });
    await this.db.transaction(async (trx) => {
      const [failed] = await trx('instances')
        .where({ id: row.id, lifecycle: 'provisioning' })
        .update({ lifecycle: 'failed', lifecycle_reason: reason, agent_base_url: null, agent_token_encrypted: null, worker_id: null, worker_lease_until: null, updated_at: trx.fn.now() })
        .returning<InstanceRow[]>('*');
      if (failed) await this.announce(failed, trx);
    });
    this.log.warn({ instance_id: row.id, reason }, 'provisioning failed');
  }

  private async deprovision(id: string): Promise<void> {
    const row = await this.row(id);
    if (!row || row.lifecycle !== 'deleting') return;
    const provisioner = this.provisioners.get(row.provisioner);
    if (provisioner && row.agent_base_url) await provisioner.release({ id, kind: row.kind, spec: row.spec, allocation: row.allocation });
    await this.db('instances').where({ id, lifecycle: 'deleting' }).delete();
    await this.poller.reload();
    await this.bus.publish('instance.deleted', row.owner_id, { instance_id: id, kind: row.kind, plugin: row.plugin });
  }

  /** Stops background work and gives its leases back, so the next start takes over at once. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.db('instances').where({ worker_id: this.replicaId }).update({ worker_lease_until: null }).catch(() => undefined);
  }
}
