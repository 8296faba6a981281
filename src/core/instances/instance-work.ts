import { setTimeout as sleep } from 'node:timers/promises';
import type { Knex } from 'knex';
import type { Logger } from '../log/logger.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { AppError } from '../http/errors.ts';
import type { AgentClient, AgentTarget } from '../agent/agent-client.ts';
import { getAgentReady, isAgentReadyResult, notReadyReason } from '../agent/readiness.ts';
import type { EventBus } from '../events/event-bus.ts';
import { instanceDeleted } from '../events/core-events.ts';
import type { Lifecycle } from './instance-state.ts';
import type { InstanceRecords, InstanceRow, InstanceSettings } from './instance-records.ts';
import type { Poller } from './poller.ts';
import type { Provisioner } from './provisioner.ts';

export interface InstanceWorkOptions {
  db: Knex;
  box: SecretBox;
  client: AgentClient;
  bus: EventBus;
  poller: Poller;
  provisioners: ReadonlyMap<string, Provisioner>;
  settings: InstanceSettings;
  replicaId: string;
  log: Logger;
  records: InstanceRecords;
}

/**
 * Provisioning and deletion, driven in the background and crash-safe: the agent
 * allocation is recorded in the same transaction that claims it; readiness is checked
 * semantically until the deadline; state changes commit with their events; and work in
 * progress is held by a lease, so a replica that dies mid-way is replaced by another (or by
 * the next start). Release is keyed by instance id and idempotent, so every failure path
 * can call it.
 */
export class InstanceWork {
  private readonly running = new Set<string>();
  private readonly afterwards = new Map<string, 'provision' | 'delete'>();
  private stopping = false;
  private readonly db: Knex;
  private readonly box: SecretBox;
  private readonly client: AgentClient;
  private readonly bus: EventBus;
  private readonly poller: Poller;
  private readonly provisioners: ReadonlyMap<string, Provisioner>;
  private readonly settings: InstanceSettings;
  private readonly replicaId: string;
  private readonly log: Logger;
  private readonly owner: InstanceRecords;

  constructor(options: InstanceWorkOptions) {
    ({
      db: this.db,
      box: this.box,
      client: this.client,
      bus: this.bus,
      poller: this.poller,
      provisioners: this.provisioners,
      settings: this.settings,
      replicaId: this.replicaId,
      log: this.log,
      records: this.owner,
    } = options);
  }

  /** Runs `kind` once the work now running for this instance has ended. */
  private queueAfter(id: string, kind: 'provision' | 'delete'): void {
    this.afterwards.set(id, kind);
  }

  /** Starts provisioning or deletion of an instance in the background (after any work already running for it). */
  start(id: string, kind: 'provision' | 'delete'): void {
    if (this.stopping) return;
    if (this.running.has(id)) {
      this.queueAfter(id, kind);
      return;
    }
    this.running.add(id);
    const work = kind === 'provision' ? this.provision(id) : this.deprovision(id);
    void work
      .catch((err: unknown) => this.log.error({ err, instance_id: id, work: kind }, 'instance work failed; another pass will retry'))
      .finally(() => {
        this.running.delete(id);
        const next = this.afterwards.get(id);
        this.afterwards.delete(id);
        if (next) this.start(id, next);
      });
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
    for (const row of claimed.rows) this.start(row.id, row.lifecycle === 'provisioning' ? 'provision' : 'delete');
    return claimed.rows.length;
  }

  /** False when the work is no longer ours to do: another replica took it, or the instance left `lifecycle`. */
  private async renewLease(id: string, lifecycle: Lifecycle): Promise<boolean> {
    const n = await this.db('instances')
      .where({ id, worker_id: this.replicaId, lifecycle })
      .update({ worker_lease_until: new Date(Date.now() + this.settings.leaseMs) });
    return n > 0;
  }

  private async provision(id: string): Promise<void> {
    let row = await this.owner.row(id);
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
          // Deleted meanwhile: roll the claim back (the pool row) and let the caller release the rest.
          if (!updated) throw new Error('the instance left provisioning during allocation');
          return updated;
        });
      } catch (err) {
        const current = await this.owner.row(id);
        if (current?.lifecycle !== 'provisioning') {
          // A local agent may have been started before the rollback; release is keyed by id and idempotent.
          await provisioner.release({ id, kind: before.kind, spec: before.spec, allocation: before.allocation });
          return;
        }
        return this.fail(before, err instanceof AppError ? err.message : 'could not allocate an agent');
      }
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
          if (updated) await this.owner.announce(updated, trx);
          return updated;
        });
        if (active) await this.poller.reload();
        return;
      }
      reason = `the agent never became ready (${notReadyReason(result)})`;
      if (!(await this.renewLease(id, 'provisioning'))) {
        // Deleted while we waited: hand it straight to deletion instead of leaving it for the lease to run out.
        if ((await this.owner.row(id))?.lifecycle === 'deleting') this.queueAfter(id, 'delete');
        return;
      }
      await sleep(this.settings.readyRetryMs);
    }
    if (this.stopping) return;
    const current = await this.owner.row(id);
    if (current?.lifecycle === 'provisioning') await this.fail(current, reason);
  }

  private async fail(row: InstanceRow, reason: string): Promise<void> {
    const provisioner = this.provisioners.get(row.provisioner);
    if (provisioner) await provisioner.release({ id: row.id, kind: row.kind, spec: row.spec, allocation: row.allocation });
    await this.db.transaction(async (trx) => {
      const [failed] = await trx('instances')
        .where({ id: row.id, lifecycle: 'provisioning' })
        .update({ lifecycle: 'failed', lifecycle_reason: reason, agent_base_url: null, agent_token_encrypted: null, worker_id: null, worker_lease_until: null, updated_at: trx.fn.now() })
        .returning<InstanceRow[]>('*');
      if (failed) await this.owner.announce(failed, trx);
    });
    this.log.warn({ instance_id: row.id, reason }, 'provisioning failed');
  }

  private async deprovision(id: string): Promise<void> {
    const row = await this.owner.row(id);
    if (!row || row.lifecycle !== 'deleting') return;
    const provisioner = this.provisioners.get(row.provisioner);
    // Always: an agent may exist even though its URL was never recorded (a crash mid-allocation).
    if (provisioner) await provisioner.release({ id, kind: row.kind, spec: row.spec, allocation: row.allocation });
    await this.db('instances').where({ id, lifecycle: 'deleting' }).delete();
    await this.poller.reload();
    await this.bus.publish(instanceDeleted, row.owner_id, { instance_id: id, kind: row.kind, plugin: row.plugin });
  }

  /** Stops background work and gives its leases back, so the next start takes over at once. */
  async stop(): Promise<void> {
    this.stopping = true;
    // Work loops notice `stopping` within one readiness retry.
    for (let i = 0; i < 50 && this.running.size > 0; i += 1) await sleep(100);
    await this.db('instances')
      .where({ worker_id: this.replicaId })
      .update({ worker_lease_until: null })
      .catch(() => undefined);
  }
}
