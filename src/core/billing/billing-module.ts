import type { Knex } from 'knex';
import type { Config } from '../../config/schema.ts';
import type { Logger } from '../log/logger.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { RouteDefinition } from '../http/route.ts';
import { Plans } from './plans.ts';
import { BillingAccounts } from './billing-accounts.ts';
import { BillingService } from './billing-service.ts';
import { BillingEntitlements } from './entitlements.ts';
import { createStripe } from './stripe-client.ts';
import { billingRoutes } from './billing-routes.ts';
import { adminBillingRoutes } from './admin-billing-routes.ts';
import { reconcile, sendReminders } from './billing-jobs.ts';
import type { MailOutbox } from '../mail/mail-outbox.ts';
import type { JobDefinition } from '../jobs/job.ts';
import type { InstanceService } from '../instances/instance-service.ts';
import type { AgentClient } from '../agent/agent-client.ts';
import { BillingEnforcement } from './enforcement.ts';

export interface BillingModule {
  service: BillingService;
  entitlements: BillingEntitlements;
  routes: RouteDefinition[];
  jobs: JobDefinition[];
}

/** Plans, accounts, Stripe and the billing routes; without a Stripe key the routes answer 503 and the default plan applies. */
export function createBillingModule(db: Knex, config: Readonly<Config>, bus: EventBus, outbox: MailOutbox, instances: InstanceService, agents: AgentClient, log: Logger): BillingModule {
  const b = config.billing;
  const base = config.server.public_url.replace(/\/$/, '');
  const plans = new Plans(b.plans, b.default_plan);
  const accounts = new BillingAccounts(db);
  const stripe = createStripe(b);
  const service = new BillingService(db, stripe, b.stripe_webhook_secret, plans, accounts, bus, {
    successUrl: b.success_url ?? `${base}/billing?checkout=success`,
    cancelUrl: b.cancel_url ?? `${base}/billing?checkout=cancel`,
    portalReturnUrl: b.portal_return_url ?? `${base}/billing`,
  }, log.child({ component: 'billing' }));
  const emailOf = async (userId: string): Promise<string> => ((await db('users').where({ id: userId }).first<{ email: string } | undefined>('email'))?.email ?? '');
  const jobLog = log.child({ component: 'billing-jobs' });
  const entitlements = new BillingEntitlements(db, plans, accounts, b.past_due_grace_days * 86_400_000);
  const enforcement = new BillingEnforcement(db, entitlements, instances, agents, jobLog);
  service.onAccountChanged = async (userId) => void (await enforcement.enforce(userId));
  const runReconcile = () => reconcile(db, service, stripe, jobLog);
  return {
    service,
    entitlements,
    routes: [...billingRoutes(service, emailOf), ...adminBillingRoutes(db, service, runReconcile)],
    jobs: [
      // Each reminder is keyed per subscription, kind and period, so overlapping runs cannot send twice.
      { id: 'core.billing-reminders', cron: '*/15 * * * *', timeout_ms: 120_000, once_across_replicas: true, run: async () => void (await sendReminders(db, outbox, jobLog)) },
      { id: 'core.billing-enforce', every_ms: 5 * 60_000, timeout_ms: 120_000, once_across_replicas: true, quiet: true, run: () => enforcement.enforceAll() },
      { id: 'core.billing-reconcile', cron: '7 * * * *', timeout_ms: 300_000, once_across_replicas: true, run: async () => void (await runReconcile()) },
    ],
  };
}
