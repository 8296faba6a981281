import type { Knex } from 'knex';

export const billingStatuses = ['none', 'trialing', 'active', 'past_due', 'canceled', 'incomplete'] as const;
export type BillingStatus = (typeof billingStatuses)[number];
/** A subscription in these states is "live": checkout is refused, the plan applies. */
export const liveStatuses: readonly BillingStatus[] = ['trialing', 'active', 'past_due', 'incomplete'];

export interface AccountRow {
  user_id: string;
  stripe_customer_id: string | null;
  subscription_id: string | null;
  plan: string | null;
  status: BillingStatus;
  current_period_end: Date | null;
  cancel_at_period_end: boolean;
  pending_plan: string | null;
  exempt: boolean;
  past_due_since: Date | null;
  last_synced_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** The subscription as read from Stripe at `syncedAt`, in our terms. */
export interface SubscriptionSnapshot {
  subscriptionId: string;
  customerId: string;
  plan: string | null;
  status: BillingStatus;
  currentPeriodEnd: Date | null;
  cancelAtPeriodEnd: boolean;
  syncedAt: Date;
}

/** One billing account per user; rows appear on first use. */
export class BillingAccounts {
  constructor(private readonly db: Knex) {}

  async get(userId: string, trx: Knex = this.db): Promise<AccountRow | undefined> {
    return trx<AccountRow>('billing_accounts').where({ user_id: userId }).first();
  }

  async ensure(userId: string, trx: Knex = this.db): Promise<AccountRow> {
    await trx('billing_accounts').insert({ user_id: userId }).onConflict('user_id').ignore();
    return (await this.get(userId, trx)) as AccountRow;
  }

  async byCustomer(customerId: string, trx: Knex = this.db): Promise<AccountRow | undefined> {
    return trx<AccountRow>('billing_accounts').where({ stripe_customer_id: customerId }).first();
  }

  async setCustomer(userId: string, customerId: string): Promise<void> {
    await this.db('billing_accounts').where({ user_id: userId }).whereNull('stripe_customer_id').update({ stripe_customer_id: customerId, updated_at: this.db.fn.now() });
  }

  async setExempt(userId: string, exempt: boolean, trx: Knex = this.db): Promise<AccountRow> {
    await this.ensure(userId, trx);
    const [row] = await trx('billing_accounts').where({ user_id: userId }).update({ exempt, updated_at: trx.fn.now() }).returning<AccountRow[]>('*');
    return row as AccountRow;
  }

  /**
   * Stores a subscription snapshot unless a newer one is already stored (webhooks arrive in
   * any order and may race). Returns the row when it changed, else null.
   */
  async apply(userId: string, snap: SubscriptionSnapshot, trx: Knex): Promise<AccountRow | null> {
    await this.ensure(userId, trx);
    const periodEnd = snap.currentPeriodEnd?.toISOString() ?? null;
    const [row] = await trx('billing_accounts')
      .where({ user_id: userId })
      .where((q) => void q.whereNull('last_synced_at').orWhere('last_synced_at', '<=', snap.syncedAt))
      .update({
        stripe_customer_id: snap.customerId,
        subscription_id: snap.subscriptionId,
        // A downgrade Stripe already bills from the next period keeps the paid-for plan until
        // the period rolls over; then the new plan applies and nothing is pending any more.
        // (Right-hand sides read the row as it was before this update.)
        plan: trx.raw(`CASE WHEN pending_plan = ? AND current_period_end IS NOT NULL AND ?::timestamptz <= current_period_end THEN plan ELSE ? END`, [snap.plan, periodEnd, snap.plan]),
        pending_plan: trx.raw(
          `CASE WHEN pending_plan = ? AND current_period_end IS NOT NULL AND ?::timestamptz <= current_period_end THEN pending_plan WHEN pending_plan = ? THEN NULL ELSE pending_plan END`,
          [snap.plan, periodEnd, snap.plan],
        ),
        status: snap.status,
        past_due_since: snap.status === 'past_due' ? trx.raw('coalesce(past_due_since, now())') : null,
        current_period_end: snap.currentPeriodEnd,
        cancel_at_period_end: snap.cancelAtPeriodEnd,
        last_synced_at: snap.syncedAt,
        updated_at: trx.fn.now(),
      })
      .returning<AccountRow[]>('*');
    return row ?? null;
  }
}
