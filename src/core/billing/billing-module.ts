import type { Knex } from 'knex';
import type { Config } from '../../config/schema.ts';
import type { Logger } from '../log/logger.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { CoreModule } from '../boot/core-module.ts';
import type { MailOutbox } from '../mail/mail-outbox.ts';
import type { InstanceService } from '../instances/instance-service.ts';
import type { AgentClient } from '../agent/agent-client.ts';
import { Plans } from './plans.ts';
import { BillingAccounts } from './billing-accounts.ts';
import { BillingService } from './billing-service.ts';
import { BillingEntitlements } from './entitlements.ts';
import { createStripe } from './stripe-client.ts';
import { billingRoutes } from './billing-routes.ts';
import { adminBillingRoutes } from './admin-billing-routes.ts';
import { BillingEnforcement } from './enforcement.ts';
import { sendRemindersJob } from './jobs/send-reminders.ts';
import { enforcePlansJob } from './jobs/enforce-plans.ts';
import { reconcile, reconcileSubscriptionsJob } from './jobs/reconcile-subscriptions.ts';
import { enforcePlanOnChange } from './subscribers/enforce-plan-on-change.ts';

export interface BillingModule extends CoreModule {
  service: BillingService;
  entitlements: BillingEntitlements;
}

export interface BillingModuleOptions {
  db: Knex;
  config: Readonly<Config>;
  bus: EventBus;
  outbox: MailOutbox;
  instances: InstanceService;
  agents: AgentClient;
  log: Logger;
}

/** Plans, accounts, Stripe and the billing routes; without a Stripe key the routes answer 503 and the default plan applies. */
export function createBillingModule(options: BillingModuleOptions): BillingModule {
  const { db, config, bus, log } = options;
  const b = config.billing;
  const base = config.server.public_url.replace(/\/$/, '');
  const plans = new Plans(b.plans, b.default_plan);
  const accounts = new BillingAccounts(db);
  const stripe = createStripe(b);
  const urls = {
    successUrl: b.success_url ?? `${base}/billing?checkout=success`,
    cancelUrl: b.cancel_url ?? `${base}/billing?checkout=cancel`,
    portalReturnUrl: b.portal_return_url ?? `${base}/billing`,
  };
  const service = new BillingService({ db, stripe, webhookSecret: b.stripe_webhook_secret, plans, accounts, bus, urls, log: log.child({ component: 'billing' }) });
  const emailOf = async (userId: string): Promise<string> => (await db('users').where({ id: userId }).first<{ email: string } | undefined>('email'))?.email ?? '';
  const jobLog = log.child({ component: 'billing-jobs' });
  const entitlements = new BillingEntitlements(db, plans, accounts, b.past_due_grace_days * 86_400_000);
  const enforcement = new BillingEnforcement(db, entitlements, options.instances, options.agents, jobLog);
  const runReconcile = () => reconcile(db, service, stripe, jobLog);
  let stopEnforcing: (() => Promise<void>) | null = null;
  return {
    name: 'billing',
    service,
    entitlements,
    routes: [...billingRoutes(service, emailOf), ...adminBillingRoutes(db, service, runReconcile)],
    jobs: [sendRemindersJob(db, options.outbox, jobLog), enforcePlansJob(enforcement), reconcileSubscriptionsJob(runReconcile)],
    start: async () => {
      stopEnforcing = enforcePlanOnChange(bus, enforcement, jobLog);
    },
    stop: async () => stopEnforcing?.(),
  };
}
