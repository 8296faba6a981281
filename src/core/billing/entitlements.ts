import type { Knex } from 'knex';
import type { Plans, PlanLimits } from './plans.ts';
import { liveStatuses, type BillingAccounts } from './billing-accounts.ts';

/** What a user's plan allows, asked by plugins before they create instances or backups. */
export interface Entitlements {
  /** The user's limits; null: none (admins and billing-exempt users). */
  limitsFor(userId: string): Promise<PlanLimits | null>;
  /** The most instances of `kind` (`game`, `dev`) the user may have; null: no limit. */
  maxInstances(userId: string, kind: string): Promise<number | null>;
}

const limitOfKind: Record<string, keyof PlanLimits> = { game: 'game_servers', dev: 'dev_containers' };

/** Limits from the plan of the user's live subscription, else the default plan; admins and exempt users have none. */
export class BillingEntitlements implements Entitlements {
  constructor(
    private readonly db: Knex,
    private readonly plans: Plans,
    private readonly accounts: BillingAccounts,
  ) {}

  async limitsFor(userId: string): Promise<PlanLimits | null> {
    const user = await this.db('users').where({ id: userId }).first<{ role: string } | undefined>('role');
    if (user?.role === 'admin') return null;
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
}
