import type { Knex } from 'knex';
import type Stripe from 'stripe';
import type { Logger } from '../log/logger.ts';
import type { EventBus } from '../events/event-bus.ts';
import { billingUpdated } from '../events/core-events.ts';
import { AppError, BadRequestError, ConflictError, ServiceUnavailableError } from '../http/errors.ts';
import type { Plans, Plan, PlanLimits } from './plans.ts';
import { liveStatuses, type AccountRow, type BillingAccounts, type BillingStatus } from './billing-accounts.ts';
import { snapshotOf, subscriptionIdOf } from './subscription-snapshot.ts';

export interface BillingUrls {
  successUrl: string;
  cancelUrl: string;
  portalReturnUrl: string;
}

export interface BillingState {
  plan: string;
  status: BillingStatus;
  exempt: boolean;
  current_period_end: string | null;
  cancel_at_period_end: boolean;
  pending_plan: string | null;
  limits: PlanLimits | null;
  usage: { game_servers: number; dev_containers: number };
}

const notConfigured = (): ServiceUnavailableError => new ServiceUnavailableError('BILLING_NOT_CONFIGURED', 'Billing is not set up on this panel (no Stripe key); everyone has the default plan');
const iso = (d: Date | null): string | null => (d === null ? null : new Date(d).toISOString());

/** Plans and subscriptions through Stripe; the account row mirrors what Stripe says, never what we hoped. */
export interface BillingServiceOptions {
  db: Knex;
  /** Null without a Stripe key: the routes answer 503 and the default plan applies. */
  stripe: Stripe | null;
  webhookSecret: string | null;
  plans: Plans;
  accounts: BillingAccounts;
  bus: EventBus;
  urls: BillingUrls;
  log: Logger;
}

/**
 * Every committed change is announced as `billing.updated`; enforcement (suspending or lifting
 * instances) follows from that event, see subscribers/enforce-plan-on-change.ts.
 */
export class BillingService {
  readonly plans: Plans;
  readonly accounts: BillingAccounts;
  private readonly db: Knex;
  private readonly stripe: Stripe | null;
  private readonly webhookSecret: string | null;
  private readonly bus: EventBus;
  private readonly urls: BillingUrls;
  private readonly log: Logger;

  constructor(options: BillingServiceOptions) {
    ({ db: this.db, stripe: this.stripe, webhookSecret: this.webhookSecret, plans: this.plans, accounts: this.accounts, bus: this.bus, urls: this.urls, log: this.log } = options);
  }

  private requireStripe(): Stripe {
    if (!this.stripe) throw notConfigured();
    return this.stripe;
  }

  /** The plan that applies: a live subscription's, else the default. */
  planOf(account: AccountRow | undefined): Plan {
    return (account && liveStatuses.includes(account.status) ? this.plans.get(account.plan) : undefined) ?? this.plans.default;
  }

  async state(userId: string, role: 'admin' | 'user'): Promise<BillingState> {
    const account = await this.accounts.get(userId);
    const exempt = role === 'admin' || account?.exempt === true;
    const plan = this.planOf(account);
    const counts = await this.db('instances')
      .where({ owner_id: userId })
      .whereNot({ lifecycle: 'deleting' })
      .select('kind')
      .count<Array<{ kind: string; n: string | number }>>('* as n')
      .groupBy('kind');
    const used = (kind: string): number => Number(counts.find((c) => c.kind === kind)?.n ?? 0);
    return {
      plan: plan.id,
      status: account?.status ?? 'none',
      exempt,
      current_period_end: iso(account?.current_period_end ?? null),
      cancel_at_period_end: account?.cancel_at_period_end ?? false,
      pending_plan: account?.pending_plan ?? null,
      limits: exempt ? null : plan.limits,
      usage: { game_servers: used('game'), dev_containers: used('dev') },
    };
  }

  /** A paid plan by id, or 400 naming the choices. */
  paidPlan(id: string): Plan {
    const plan = this.plans.get(id);
    if (!plan) throw new BadRequestError('PLAN_UNKNOWN', `There is no plan "${id}"; see GET /api/billing/plans`, { plans: this.plans.ordered.map((p) => p.id) });
    if (plan.price_id === null) throw new BadRequestError('PLAN_NOT_PURCHASABLE', `The ${plan.name} plan is not bought; it applies without a subscription`);
    return plan;
  }

  /** The user's Stripe customer, created once (with our user id in its metadata) before the first checkout. */
  private async customerFor(userId: string, email: string): Promise<string> {
    const account = await this.accounts.ensure(userId);
    if (account.stripe_customer_id) return account.stripe_customer_id;
    const customer = await this.requireStripe().customers.create({ email, metadata: { user_id: userId } }, { idempotencyKey: `customer:${userId}` });
    await this.accounts.setCustomer(userId, customer.id);
    return (await this.accounts.get(userId))?.stripe_customer_id ?? customer.id;
  }

  async checkout(userId: string, email: string, planId: string): Promise<{ url: string; session_id: string }> {
    const stripe = this.requireStripe();
    const plan = this.paidPlan(planId);
    const account = await this.accounts.get(userId);
    if (account && account.subscription_id && liveStatuses.includes(account.status)) {
      throw new ConflictError('SUBSCRIPTION_EXISTS', `You already have a ${account.status} subscription; change plans with upgrade or downgrade, or manage it in the portal`, {
        status: account.status,
      });
    }
    const customer = await this.customerFor(userId, email);
    const day = new Date().toISOString().slice(0, 10);
    const session = await stripe.checkout.sessions.create(
      {
        mode: 'subscription',
        customer,
        client_reference_id: userId,
        line_items: [{ price: plan.price_id as string, quantity: 1 }],
        success_url: this.urls.successUrl,
        cancel_url: this.urls.cancelUrl,
        metadata: { user_id: userId, plan: plan.id },
        subscription_data: { metadata: { user_id: userId, plan: plan.id } },
      },
      // A retried click the same day gets the same session, not a second one.
      { idempotencyKey: `checkout:${userId}:${plan.id}:${day}` },
    );
    if (!session.url) throw new AppError(502, 'STRIPE_BAD_RESPONSE', 'Bad answer from Stripe', 'Stripe returned a Checkout session without a URL; retry');
    return { url: session.url, session_id: session.id };
  }

  /**
   * Upgrade: takes effect only once paid (`pending_if_incomplete`, invoiced now): until Stripe
   * has the payment the subscription keeps its price, and so the user keeps the plan.
   * Downgrade: Stripe bills the new price from the next period; the account shows it as
   * `pending_plan` and keeps the paid-for plan until the period ends.
   */
  async changePlan(userId: string, role: 'admin' | 'user', planId: string, direction: 'upgrade' | 'downgrade'): Promise<BillingState> {
    const stripe = this.requireStripe();
    const target = this.paidPlan(planId);
    const account = await this.accounts.get(userId);
    if (!account?.subscription_id || !liveStatuses.includes(account.status)) throw new ConflictError('NO_SUBSCRIPTION', 'You have no live subscription; subscribe with POST /api/billing/checkout');
    const current = this.planOf(account);
    if (target.id === current.id || target.id === account.pending_plan) throw new ConflictError('PLAN_UNCHANGED', `You are already on the ${target.name} plan`);
    if (direction === 'upgrade' && target.amount <= current.amount)
      throw new BadRequestError('NOT_AN_UPGRADE', `${target.name} does not cost more than ${current.name}; use POST /api/billing/downgrade`);
    if (direction === 'downgrade' && target.amount >= current.amount)
      throw new BadRequestError('NOT_A_DOWNGRADE', `${target.name} does not cost less than ${current.name}; use POST /api/billing/upgrade`);
    const sub = await stripe.subscriptions.retrieve(account.subscription_id);
    const item = sub.items.data[0];
    if (!item) throw new AppError(502, 'STRIPE_BAD_RESPONSE', 'Bad answer from Stripe', 'The subscription has no items; contact support');
    const day = new Date().toISOString().slice(0, 10);
    const change =
      direction === 'upgrade'
        ? { items: [{ id: item.id, price: target.price_id as string }], payment_behavior: 'pending_if_incomplete' as const, proration_behavior: 'always_invoice' as const }
        : { items: [{ id: item.id, price: target.price_id as string }], proration_behavior: 'none' as const };
    await stripe.subscriptions.update(sub.id, change, { idempotencyKey: `${direction}:${sub.id}:${target.id}:${day}` });
    if (direction === 'downgrade') await this.db('billing_accounts').where({ user_id: userId }).update({ pending_plan: target.id, updated_at: this.db.fn.now() });
    await this.sync(userId, sub.id);
    return this.state(userId, role);
  }

  /** Reads the subscription from Stripe now and stores it (admin sync, after plan changes, reconciliation). */
  async sync(userId: string, subscriptionId: string): Promise<void> {
    const syncedAt = new Date();
    const fresh = await this.requireStripe().subscriptions.retrieve(subscriptionId);
    await this.db.transaction(async (trx) => {
      const changed = await this.accounts.apply(userId, snapshotOf(fresh, this.plans, syncedAt), trx);
      if (changed) await this.announce(changed, trx);
    });
  }

  async portal(userId: string): Promise<{ url: string }> {
    const stripe = this.requireStripe();
    const account = await this.accounts.get(userId);
    if (!account?.stripe_customer_id) throw new ConflictError('NO_BILLING_ACCOUNT', 'You have no Stripe customer yet; subscribe with POST /api/billing/checkout first');
    const session = await stripe.billingPortal.sessions.create({ customer: account.stripe_customer_id, return_url: this.urls.portalReturnUrl });
    return { url: session.url };
  }

  /** Whose subscription it is: our metadata on it, else the account holding its customer, else the customer's metadata. */
  private async userOf(sub: Stripe.Subscription): Promise<string | null> {
    if (sub.metadata?.user_id) return sub.metadata.user_id;
    const customerId = typeof sub.customer === 'string' ? sub.customer : sub.customer.id;
    const account = await this.accounts.byCustomer(customerId);
    if (account) return account.user_id;
    const customer = await this.requireStripe().customers.retrieve(customerId);
    return 'metadata' in customer && customer.metadata?.user_id ? customer.metadata.user_id : null;
  }

  /**
   * Handles one webhook delivery: verified against the raw body, recorded with its effects in
   * one transaction, a duplicate acknowledged and skipped. Effects never trust the event's copy
   * of the subscription: it is read from Stripe again, so order does not matter.
   */
  async webhook(rawBody: Buffer, signature: string | undefined): Promise<{ duplicate: boolean }> {
    const stripe = this.requireStripe();
    if (!this.webhookSecret) throw notConfigured();
    let event: Stripe.Event;
    try {
      event = stripe.webhooks.constructEvent(rawBody, signature ?? '', this.webhookSecret);
    } catch {
      throw new BadRequestError('WEBHOOK_SIGNATURE_INVALID', 'The Stripe-Signature header does not match this body and the webhook secret');
    }
    return this.process(event);
  }

  /** Applies one verified event (a webhook, or one the reconciler replays); a seen event id is skipped. */
  async process(event: Stripe.Event): Promise<{ duplicate: boolean }> {
    const stripe = this.requireStripe();
    if (await this.db('billing_events').where({ id: event.id }).first('id')) return { duplicate: true };
    const subscriptionId = subscriptionIdOf(event);
    const syncedAt = new Date();
    const sub = subscriptionId ? await stripe.subscriptions.retrieve(subscriptionId) : null;
    const userId = sub ? await this.userOf(sub) : null;
    const result = await this.db.transaction(async (trx) => {
      const inserted = await trx('billing_events')
        .insert({ id: event.id, type: event.type, user_id: userId, stripe_created_at: new Date(event.created * 1000), outcome: 'ignored' })
        .onConflict('id')
        .ignore()
        .returning('id');
      if (inserted.length === 0) return { duplicate: true };
      if (sub && userId) {
        const changed = await this.accounts.apply(userId, snapshotOf(sub, this.plans, syncedAt), trx);
        await trx('billing_events')
          .where({ id: event.id })
          .update({ outcome: changed ? 'applied' : 'stale', detail: `${sub.id} ${sub.status}` });
        if (changed) await this.announce(changed, trx);
      } else if (sub) {
        this.log.warn({ event_id: event.id, subscription_id: sub.id }, 'a subscription of no known user; ignored');
        await trx('billing_events').where({ id: event.id }).update({ outcome: 'unknown_user', detail: sub.id });
      }
      return { duplicate: false };
    });
    return result;
  }

  /** Tells the portal (and enforcement) that the account changed; inside `trx`, once it commits. */
  async announce(account: AccountRow, trx?: Knex.Transaction): Promise<void> {
    await this.bus.publish(
      billingUpdated,
      account.user_id,
      {
        plan: this.planOf(account).id,
        status: account.status,
        current_period_end: iso(account.current_period_end),
        cancel_at_period_end: account.cancel_at_period_end,
        pending_plan: account.pending_plan,
      },
      trx,
    );
  }
}
