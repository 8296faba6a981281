import { z } from 'zod';
import { defineRoute, type RouteDefinition } from '../http/route.ts';
import { PayloadTooLargeError } from '../http/errors.ts';
import type { BillingService } from './billing-service.ts';
import { billingStatuses } from './billing-accounts.ts';

const limitsSchema = z.object({ game_servers: z.number().int(), dev_containers: z.number().int(), backups_per_server: z.number().int() }).meta({ id: 'PlanLimits' });
/** The subscription fields every billing answer shares (the portal's state, the admin's account). */
export const subscriptionFields = z.object({
  plan: z.string(),
  status: z.enum(billingStatuses),
  exempt: z.boolean(),
  current_period_end: z.iso.datetime().nullable(),
  cancel_at_period_end: z.boolean(),
  pending_plan: z.string().nullable(),
});
const stateSchema = subscriptionFields.extend({
  limits: limitsSchema.nullable().describe('null: no limits (admins and exempt accounts)'),
  usage: z.object({ game_servers: z.number().int(), dev_containers: z.number().int() }),
});
const planBody = z.strictObject({ plan: z.string().min(1).max(40) });
const notConfigured = 'Stripe is not configured on this panel (BILLING_NOT_CONFIGURED)';
const exampleState = {
  plan: 'starter',
  status: 'active',
  exempt: false,
  current_period_end: '2026-12-23T10:00:00.000Z',
  cancel_at_period_end: false,
  pending_plan: null,
  limits: { game_servers: 5, dev_containers: 4, backups_per_server: 10 },
  usage: { game_servers: 2, dev_containers: 1 },
};

/** Stripe sends small JSON; anything bigger is not Stripe. */
const maxWebhookBytes = 1024 * 1024;

async function readRaw(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > maxWebhookBytes) throw new PayloadTooLargeError(maxWebhookBytes);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function billingRoutes(billing: BillingService, emailOf: (userId: string) => Promise<string>): RouteDefinition[] {
  return [
    defineRoute({
      method: 'get',
      path: '/api/billing/plans',
      summary: 'The plans, cheapest first, with their limits',
      tags: ['billing'],
      auth: 'none',
      responses: {
        200: z.object({ plans: z.array(z.object({ id: z.string(), name: z.string(), price_id: z.string().nullable(), amount: z.number().int(), currency: z.string(), limits: limitsSchema })) }),
      },
      examples: { responses: { 200: { plans: billing.plans.ordered } } },
      handler: async () => ({ body: { plans: billing.plans.ordered.map((p) => ({ ...p })) } }),
    }),
    defineRoute({
      method: 'get',
      path: '/api/billing',
      summary: "The caller's plan, subscription status, limits and usage",
      tags: ['billing'],
      auth: 'user',
      responses: { 200: stateSchema },
      examples: { responses: { 200: exampleState } },
      handler: async ({ principal }) => {
        const me = principal;
        return { body: await billing.state(me.userId, me.role) };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/billing/checkout',
      summary: 'A Stripe Checkout page for subscribing to a plan',
      description: "Open `url`; the subscription is recorded when Stripe's webhook arrives (watch `billing.updated` on /api/events).",
      tags: ['billing'],
      auth: 'user',
      request: { body: planBody },
      responses: { 200: z.object({ url: z.string(), session_id: z.string() }) },
      errors: {
        400: 'Unknown plan (PLAN_UNKNOWN) or the free plan (PLAN_NOT_PURCHASABLE)',
        409: 'A live subscription exists (SUBSCRIPTION_EXISTS): use upgrade, downgrade or the portal',
        503: notConfigured,
      },
      examples: { body: { plan: 'starter' }, responses: { 200: { url: 'https://checkout.stripe.com/c/pay/cs_test_a1...', session_id: 'cs_test_a1...' } } },
      handler: async ({ principal, body }) => {
        const me = principal;
        return { body: await billing.checkout(me.userId, await emailOf(me.userId), body.plan) };
      },
    }),
    ...(['upgrade', 'downgrade'] as const).map((direction) =>
      defineRoute({
        method: 'post',
        path: `/api/billing/${direction}`,
        summary:
          direction === 'upgrade'
            ? 'Moves to a dearer plan; it takes effect once the prorated invoice is paid'
            : 'Moves to a cheaper plan at the end of the current period (shown as pending_plan until then)',
        description:
          direction === 'upgrade'
            ? 'Stripe invoices the difference now (`payment_behavior: pending_if_incomplete`): if that payment fails, the subscription and the plan stay as they were.'
            : 'Stripe bills the new price from the next period; the current plan and its limits stay until then.',
        tags: ['billing'],
        auth: 'user',
        request: { body: planBody },
        responses: { 200: stateSchema },
        errors: {
          400: `Unknown plan (PLAN_UNKNOWN), the free plan (PLAN_NOT_PURCHASABLE), or ${direction === 'upgrade' ? 'a plan that is not dearer (NOT_AN_UPGRADE)' : 'a plan that is not cheaper (NOT_A_DOWNGRADE)'}`,
          409: 'No live subscription (NO_SUBSCRIPTION), or already on that plan (PLAN_UNCHANGED)',
          503: notConfigured,
        },
        examples: {
          body: { plan: direction === 'upgrade' ? 'pro' : 'starter' },
          responses: { 200: direction === 'upgrade' ? exampleState : { ...exampleState, plan: 'pro', pending_plan: 'starter' } },
        },
        handler: async ({ principal, body }) => {
          const me = principal;
          return { body: await billing.changePlan(me.userId, me.role, body.plan, direction) };
        },
      }),
    ),
    defineRoute({
      method: 'post',
      path: '/api/billing/portal',
      summary: 'A Stripe Customer Portal page (invoices, payment method, cancel); changes made there arrive by webhook',
      tags: ['billing'],
      auth: 'user',
      responses: { 200: z.object({ url: z.string() }) },
      errors: { 409: 'No Stripe customer yet (NO_BILLING_ACCOUNT)', 503: notConfigured },
      examples: { responses: { 200: { url: 'https://billing.stripe.com/p/session/test_YWN...' } } },
      handler: async ({ principal }) => ({ body: await billing.portal(principal.userId) }),
    }),
    defineRoute({
      method: 'post',
      path: '/api/billing/webhook',
      summary: 'Stripe events (signed; read raw, before any JSON parser)',
      description:
        'Verified with the Stripe-Signature header. Each event id is recorded with its effects in one transaction; a repeated event answers 200 and changes nothing; a failure answers 5xx so Stripe retries.',
      tags: ['billing'],
      auth: 'none',
      bodyMode: 'raw',
      responses: { 200: z.object({ received: z.boolean(), duplicate: z.boolean() }) },
      errors: { 400: 'Bad signature (WEBHOOK_SIGNATURE_INVALID); nothing is stored', 503: notConfigured },
      examples: { responses: { 200: { received: true, duplicate: false } } },
      handler: async ({ ctx, headers }) => {
        const raw = await readRaw(ctx.req);
        const signature = headers['stripe-signature'];
        const { duplicate } = await billing.webhook(raw, typeof signature === 'string' ? signature : undefined);
        return { body: { received: true, duplicate } };
      },
    }),
  ];
}
