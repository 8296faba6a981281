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

export interface BillingModule {
  service: BillingService;
  entitlements: BillingEntitlements;
  routes: RouteDefinition[];
}

/** Plans, accounts, Stripe and the billing routes; without a Stripe key the routes answer 503 and the default plan applies. */
export function createBillingModule(db: Knex, config: Readonly<Config>, bus: EventBus, log: Logger): BillingModule {
  const b = config.billing;
  const base = config.server.public_url.replace(/\/$/, '');
  const plans = new Plans(b.plans, b.default_plan);
  const accounts = new BillingAccounts(db);
  const service = new BillingService(db, createStripe(b), b.stripe_webhook_secret, plans, accounts, bus, {
    successUrl: b.success_url ?? `${base}/billing?checkout=success`,
    cancelUrl: b.cancel_url ?? `${base}/billing?checkout=cancel`,
    portalReturnUrl: b.portal_return_url ?? `${base}/billing`,
  }, log.child({ component: 'billing' }));
  const emailOf = async (userId: string): Promise<string> => ((await db('users').where({ id: userId }).first<{ email: string } | undefined>('email'))?.email ?? '');
  return { service, entitlements: new BillingEntitlements(db, plans, accounts), routes: billingRoutes(service, emailOf) };
}
