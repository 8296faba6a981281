import type { Knex } from 'knex';
import type { Logger } from '../../log/logger.ts';
import type { MailOutbox } from '../../mail/mail-outbox.ts';
import type { JobDefinition } from '../../jobs/job.ts';

const day = 86_400_000;

interface Due {
  user_id: string;
  email: string;
  subscription_id: string;
  current_period_end: Date;
  plan: string | null;
}

/** What each reminder says, and which accounts are due for it. */
const reminders = [
  {
    kind: 'trial_ending',
    due: (q: Knex.QueryBuilder) => q.where('a.status', 'trialing').where('a.current_period_end', '<=', new Date(Date.now() + 3 * day)),
    subject: 'Your trial ends soon',
    text: (d: Due) => `Your trial ends on ${d.current_period_end.toISOString().slice(0, 10)}. Add a payment method in the billing portal to keep your servers running.`,
  },
  {
    kind: 'payment_failed',
    due: (q: Knex.QueryBuilder) => q.where('a.status', 'past_due'),
    subject: 'Your payment failed',
    text: (d: Due) => `We could not take the payment for your ${d.plan ?? ''} plan. Update your payment method in the billing portal before your servers are limited.`,
  },
  {
    kind: 'renewal_upcoming',
    due: (q: Knex.QueryBuilder) =>
      q
        .where('a.status', 'active')
        .where('a.cancel_at_period_end', false)
        .where('a.current_period_end', '<=', new Date(Date.now() + 3 * day)),
    subject: 'Your subscription renews soon',
    text: (d: Due) => `Your ${d.plan ?? ''} plan renews on ${d.current_period_end.toISOString().slice(0, 10)}.`,
  },
] as const;

/**
 * Reminder mail. Each is keyed by (subscription, kind, period) and written with its mail in
 * one transaction: whatever retries or replicas run this, a reminder goes out once per period.
 */
export async function sendReminders(db: Knex, outbox: MailOutbox, log: Logger): Promise<number> {
  let sent = 0;
  for (const reminder of reminders) {
    const due = await db('billing_accounts as a')
      .join('users as u', 'u.id', 'a.user_id')
      .whereNotNull('a.subscription_id')
      .whereNotNull('a.current_period_end')
      .where('a.exempt', false)
      .modify((q) => void reminder.due(q))
      .select<Due[]>('a.user_id', 'u.email', 'a.subscription_id', 'a.current_period_end', 'a.plan');
    for (const d of due) {
      const periodKey = new Date(d.current_period_end).toISOString();
      const wrote = await db.transaction(async (trx) => {
        const inserted = await trx('billing_reminders')
          .insert({ user_id: d.user_id, subscription_id: d.subscription_id, kind: reminder.kind, period_key: periodKey })
          .onConflict(['subscription_id', 'kind', 'period_key'])
          .ignore()
          .returning('id');
        if (inserted.length === 0) return false;
        await outbox.enqueue({ to: d.email, subject: reminder.subject, text: reminder.text({ ...d, current_period_end: new Date(d.current_period_end) }) }, trx);
        return true;
      });
      if (wrote) sent += 1;
    }
  }
  if (sent > 0) log.info({ sent }, 'billing reminders queued');
  return sent;
}

/** Each reminder is keyed per subscription, kind and period, so overlapping runs cannot send twice. */
export function sendRemindersJob(db: Knex, outbox: MailOutbox, log: Logger): JobDefinition {
  return { id: 'core.billing-reminders', cron: '*/15 * * * *', timeout_ms: 120_000, once_across_replicas: true, run: async () => void (await sendReminders(db, outbox, log)) };
}
