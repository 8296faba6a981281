import type { Knex } from 'knex';
import type { EventBus } from '../events/event-bus.ts';
import { instanceState } from '../events/core-events.ts';
import { emptyPolledState, presentState, type InstanceState, type Lifecycle, type PolledState } from './instance-state.ts';
import type { Poller } from './poller.ts';

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
 * Reading and announcing instance rows, shared by the service (what plugins call) and the
 * background work (provisioning, deletion): the state shown is this replica's freshest poll.
 */
export class InstanceRecords {
  constructor(
    private readonly db: Knex,
    private readonly poller: Poller,
    private readonly bus: EventBus,
    private readonly pollIntervalMs: number,
  ) {}

  async row(id: string): Promise<InstanceRow | undefined> {
    return this.db('instances').where({ id }).first<InstanceRow | undefined>();
  }

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
      state: presentState(row.lifecycle, polled, this.pollIntervalMs),
    };
  }

  /** Publishes the instance's state; inside `trx` the event commits (or not) with the change itself. */
  async announce(row: InstanceRow, trx?: Knex.Transaction): Promise<void> {
    const instance = this.present(row);
    await this.bus.publish(instanceState, row.owner_id, { instance_id: row.id, kind: row.kind, plugin: row.plugin, state: instance.state, reason: row.lifecycle_reason }, trx);
  }
}
