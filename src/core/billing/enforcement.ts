import type { Knex } from 'knex';
import type { Logger } from '../log/logger.ts';
import type { InstanceService } from '../instances/instance-service.ts';
import { withAgentLifecycles, type Lifecycle } from '../instances/instance-state.ts';
import type { AgentClient } from '../agent/agent-client.ts';
import type { Entitlements } from './entitlements.ts';

/** Marks suspensions made by billing, so only those are lifted by a payment. */
export const billingSuspension = 'billing: your plan no longer covers this instance; subscribe again (or upgrade) to resume it';
const kinds = [
  { kind: 'game', limit: 'game_servers' },
  { kind: 'dev', limit: 'dev_containers' },
] as const;
/** The instances that take a place in the plan's order (failed and deleting ones do not). */
const rankedLifecycles: readonly Lifecycle[] = ['provisioning', ...withAgentLifecycles];

/**
 * Keeps running instances within the plan. When a subscription ends (canceled, at period
 * end) the default plan applies: instances beyond its limits are suspended, newest first,
 * and their agents stopped. When the plan covers them again (paid, upgraded, exempted),
 * the suspensions billing made are lifted. Idempotent: it compares and fixes, so the job,
 * webhooks and admin changes may all call it.
 */
export class BillingEnforcement {
  constructor(
    private readonly db: Knex,
    private readonly entitlements: Entitlements,
    private readonly instances: InstanceService,
    private readonly agents: AgentClient,
    private readonly log: Logger,
  ) {}

  async enforce(userId: string): Promise<{ suspended: number; lifted: number }> {
    const limits = await this.entitlements.limitsFor(userId);
    let suspended = 0;
    let lifted = 0;
    for (const { kind, limit } of kinds) {
      const allowed = limits === null ? Number.POSITIVE_INFINITY : limits[limit];
      const rows = await this.db('instances')
        .where({ owner_id: userId, kind })
        .whereIn('lifecycle', rankedLifecycles)
        .orderBy('created_at', 'asc')
        .orderBy('id')
        .select<Array<{ id: string; lifecycle: string; lifecycle_reason: string | null }>>('id', 'lifecycle', 'lifecycle_reason');
      for (const [i, row] of rows.entries()) {
        if (i >= allowed && row.lifecycle === 'active') {
          if (await this.instances.setLifecycle(row.id, 'suspended', billingSuspension, ['active'])) {
            suspended += 1;
            await this.agents
              .call(await this.instances.target(row.id), 'stop')
              .catch((err: unknown) => this.log.info({ err, instance_id: row.id }, "could not stop a suspended instance's workload (it may already be stopped)"));
            await this.instances.confirmAction(row.id);
          }
        } else if (i < allowed && row.lifecycle === 'suspended' && row.lifecycle_reason === billingSuspension) {
          if (await this.instances.setLifecycle(row.id, 'active', null, ['suspended'])) lifted += 1;
        }
      }
    }
    if (suspended + lifted > 0) this.log.info({ user_id: userId, suspended, lifted }, 'billing enforcement changed instances');
    return { suspended, lifted };
  }

  /** Everyone whose instances billing may need to change: ended subscriptions and billing suspensions. */
  async enforceAll(): Promise<void> {
    const users = await this.db('billing_accounts')
      .whereIn('status', ['canceled', 'none'])
      .whereNotNull('subscription_id')
      .select('user_id')
      .union((q) => void q.from('instances').where({ lifecycle: 'suspended', lifecycle_reason: billingSuspension }).select('owner_id as user_id'));
    for (const { user_id: userId } of users as Array<{ user_id: string }>) {
      await this.enforce(userId).catch((err: unknown) => this.log.warn({ err, user_id: userId }, 'billing enforcement failed; will retry'));
    }
  }
}
