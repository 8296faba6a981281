import { defineInvariant } from './invariant.ts';

/**
 * A webhook delivery is recorded in `billing_events` in the same transaction as its effect on
 * the account, and only then acknowledged; its id is the primary key, so a redelivery is
 * skipped. A delivery the API never acknowledged left no row and Stripe sends it again (and
 * the hourly reconcile replays what Stripe reports undelivered). So each recorded event must
 * carry its effect; this finds a record without one.
 */
export const billingEventWithoutEffect = defineInvariant({
  id: 'core.billing-event-without-effect',
  title: 'every recorded Stripe event was applied once (its account synced) or says why it changed nothing',
  explanation:
    'A subscription event is recorded with its outcome (applied, stale, unknown_user) and the account it changed, together. An event still marked with the placeholder outcome, or applied to a user with no synced subscription, was recorded without its effect: Stripe will not resend it (its id is taken), so the account is out of date.',
  remedy: 'Re-read the subscription from Stripe: POST /api/admin/billing/accounts/:user_id/sync (or POST /api/admin/billing/reconcile for everyone), then check GET /api/admin/billing/events.',
  async offending({ db }) {
    const rows = await db.raw<{ rows: Array<{ id: string }> }>(
      `SELECT e.id FROM billing_events e
         LEFT JOIN billing_accounts a ON a.user_id = e.user_id
        WHERE (e.outcome = 'ignored' AND e.type LIKE 'customer.subscription.%')
           OR (e.outcome IN ('applied', 'stale') AND e.user_id IS NOT NULL
                 AND (a.user_id IS NULL OR a.subscription_id IS NULL OR a.last_synced_at IS NULL))
        ORDER BY e.received_at, e.id`,
    );
    return rows.rows.map((r) => r.id);
  },
});
