import type { Knex } from 'knex';
import type Stripe from 'stripe';
import type { Logger } from '../../log/logger.ts';
import type { JobDefinition } from '../../jobs/job.ts';
import type { BillingService } from '../billing-service.ts';

const day = 86_400_000;

/**
 * Repairs drift: re-reads subscriptions that are not final or were not read for a day, and
 * replays events Stripe reports as undelivered. Stripe's state is applied as is; the exempt
 * flag is ours and is never touched, so an exempt account is never "repaired" into limits.
 */
export async function reconcile(db: Knex, billing: BillingService, stripe: Stripe | null, log: Logger): Promise<{ checked: number; replayed: number }> {
  if (!stripe) return { checked: 0, replayed: 0 };
  const stale = await db('billing_accounts')
    .whereNotNull('subscription_id')
    .where(
      (q) =>
        void q
          .whereNot('status', 'canceled')
          .orWhereNull('last_synced_at')
          .orWhere('last_synced_at', '<', new Date(Date.now() - day)),
    )
    .select<Array<{ user_id: string; subscription_id: string }>>('user_id', 'subscription_id');
  let checked = 0;
  for (const account of stale) {
    await billing.sync(account.user_id, account.subscription_id).then(
      () => void (checked += 1),
      (err: unknown) => log.warn({ err, user_id: account.user_id }, 'could not re-read a subscription; will retry'),
    );
  }
  let replayed = 0;
  for await (const event of stripe.events.list({ delivery_success: false, limit: 100 })) {
    const { duplicate } = await billing.process(event);
    if (!duplicate) replayed += 1;
  }
  if (replayed > 0) log.warn({ replayed }, 'replayed Stripe events that were not delivered');
  return { checked, replayed };
}

/** Hourly: repairs drift from Stripe and replays events that never arrived. */
export function reconcileSubscriptionsJob(run: () => Promise<unknown>): JobDefinition {
  return { id: 'core.billing-reconcile', cron: '7 * * * *', timeout_ms: 300_000, once_across_replicas: true, run: async () => void (await run()) };
}
