import type { Knex } from 'knex';
import { AppError } from '../http/errors.ts';
import type { Plans, PlanLimits } from './plans.ts';
import { liveStatuses, type BillingAccounts } from './billing-accounts.ts';

/**
 * What a user's plan allows, asked by plugins before they create or start instances. There is
 * deliberately no separate "can create?" check: a check apart from the insert races, so the
 * limit from `maxInstances` is enforced inside InstanceService.create's transaction.
 */
export interface Entitlements {
  /** The user's limits; null: none (admins and billing-exempt users). */
  limitsFor(userId: string): Promise<PlanLimits | null>;
  /** The most instances of `kind` (`game`, `dev`) the user may have; null: no limit. */
  maxInstances(userId: string, kind: string): Promise<number | null>;
  /** Throws 402 BILLING_PAST_DUE when the user's payment is overdue beyond the grace period. */
  assertMayRun(userId: string): Promise<void>;
}

const limitOfKind: Record<string, keyof PlanLimits> = { game: 'game_servers', dev: 'dev_containers' };

/** Limits from the plan of the user's live subscription, else the default plan; admins and exempt users have none. */
export class BillingEntitlements implements Entitlements {
  constructor(
    private readonly db: Knex,
    private readonly plans: Plans,
    private readonly accounts: BillingAccounts,
    private readonly pastDueGraceMs: number,
  ) {}

  private async exempt(userId: string): Promise<boolean> {
    const user = await this.db('users').where({ id: userId }).first<{ role: string } | undefined>('role');
    return user?.role === 'admin';
  }

  async limitsFor(userId: string): Promise<PlanLimits | null> {
    if (await this.exempt(userId)) return null;
    const account = await this.accounts.get(userId);
    if (account?.exempt) return null;
    const live = account && liveStatuses.includes(account.status) ? this.plans.get(account.plan) : undefined;
    return (live ?? this.plans.default).limits;
  }

  async maxInstances(userId: string, kind: string): Promise<number | null> {
    const limits = await this.limitsFor(userId);
    const key = limitOfKind[kind];
    return limits === null || key === undefined ? null : limits[key];
  }

  async assertMayRun(userId: string): Promise<void> {
    const account = await this.accounts.get(userId);
    if (!account || account.exempt || account.status !== 'past_due' || !account.past_due_since) return;
    if (Date.now() - new Date(account.past_due_since).getTime() <= this.pastDueGraceMs) return;
    if (await this.exempt(userId)) return;
    throw new AppError(
      402,
      'BILLING_PAST_DUE',
      'Payment overdue',
      'Your payment is overdue; update your payment method in the billing portal (POST /api/billing/portal) to create or start instances again',
    );
  }
}
