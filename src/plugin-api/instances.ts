import type { Knex } from 'knex';
import type { AgentTarget } from '../core/agent/agent-client.ts';
import type { Instance, NewInstance } from '../core/instances/instance-records.ts';
import type { InstanceState, Lifecycle } from '../core/instances/instance-state.ts';

export interface InstanceFilter {
  plugin?: string;
  ownerId?: string;
  lifecycle?: Lifecycle;
  status?: InstanceState['status'];
  page: number;
  limit: number;
}

/**
 * Instances of every kind, as plugins see them: records with their normalized state. Never
 * the stored row (it carries the sealed agent token), never the background work.
 */
export interface Instances {
  /** The instance if it exists and `ownerId` may see it (null: admins, who see all); else 404. */
  get(id: string, ownerId: string | null, resource?: string): Promise<Instance>;
  list(filter: InstanceFilter): Promise<{ items: Instance[]; total: number }>;
  /** Records the instance in `provisioning` and provisions it in the background; `maxForOwner` is the plan's limit. */
  create(input: NewInstance, options?: { maxForOwner?: number | null; withinTransaction?: (trx: Knex.Transaction, instanceId: string) => Promise<void> }): Promise<Instance>;
  /** Marks the instance `deleting`; its agent is released in the background. */
  remove(id: string): Promise<void>;
  /** Moves the panel's lifecycle (with `from`: only out of those); false when nothing changed. */
  setLifecycle(id: string, lifecycle: Lifecycle, reason?: string | null, from?: readonly Lifecycle[]): Promise<boolean>;
  /** Where to reach the instance's agent; only for instances the caller already checked. */
  target(id: string): Promise<AgentTarget>;
  /** Polls now and resolves with the fresh state. */
  refresh(id: string): Promise<Instance>;
  /**
   * After an action the agent accepted, before answering it: resolves once the agent's own
   * account of the instance is in the state cache, so the next request (by anyone, on any
   * replica) sees the action's effect; then re-polls twice more within seconds. A poll that
   * fails is logged and does not fail the action: the cache then says what the agent said.
   */
  confirmAction(id: string): Promise<void>;
}
