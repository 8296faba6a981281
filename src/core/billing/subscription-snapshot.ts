import type Stripe from 'stripe';
import type { Plans } from './plans.ts';
import type { BillingStatus, SubscriptionSnapshot } from './billing-accounts.ts';

/** Stripe's subscription statuses in our terms (API.md keeps six). */
const statusMap: Record<Stripe.Subscription.Status, BillingStatus> = {
  trialing: 'trialing',
  active: 'active',
  past_due: 'past_due',
  unpaid: 'past_due',
  paused: 'past_due',
  incomplete: 'incomplete',
  incomplete_expired: 'canceled',
  canceled: 'canceled',
};

const idOf = (value: string | { id: string } | null | undefined): string | null => (value === null || value === undefined ? null : typeof value === 'string' ? value : value.id);

/**
 * Our view of a subscription as Stripe has it now. The plan comes from the subscription's
 * price (an upgrade waiting for payment sits in `pending_update`, so the paid-for plan stays).
 * Newer API versions keep the period on the item; older ones on the subscription.
 */
export function snapshotOf(sub: Stripe.Subscription, plans: Plans, syncedAt: Date): SubscriptionSnapshot {
  const item = sub.items.data[0];
  const periodEnd = (item as { current_period_end?: number } | undefined)?.current_period_end ?? (sub as unknown as { current_period_end?: number }).current_period_end ?? null;
  return {
    subscriptionId: sub.id,
    customerId: idOf(sub.customer) ?? '',
    plan: plans.byPrice(item?.price.id)?.id ?? null,
    status: statusMap[sub.status] ?? 'incomplete',
    currentPeriodEnd: periodEnd === null ? null : new Date(periodEnd * 1000),
    cancelAtPeriodEnd: sub.cancel_at_period_end,
    syncedAt,
  };
}

/** The subscription an event is about, whatever its type. */
export function subscriptionIdOf(event: Stripe.Event): string | null {
  const object = event.data.object as unknown as Record<string, unknown>;
  switch (event.type) {
    case 'checkout.session.completed':
      return idOf(object.subscription as string | null);
    case 'customer.subscription.created':
    case 'customer.subscription.updated':
    case 'customer.subscription.deleted':
    case 'customer.subscription.trial_will_end':
      return String(object.id);
    case 'invoice.paid':
    case 'invoice.payment_failed': {
      const parent = object.parent as { subscription_details?: { subscription?: string | { id: string } } } | null | undefined;
      return idOf((object.subscription as string | null | undefined) ?? parent?.subscription_details?.subscription ?? null);
    }
    default:
      return null;
  }
}
