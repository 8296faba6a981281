import test from 'ava';
import { startTestApp, type TestApp } from '../../helpers/start-test-app.ts';
import { bearer, createUser, json, loginAdmin, type Session } from '../../helpers/auth.ts';
import { startFakeStripe, type FakeStripe } from '../../fakes/fake-stripe.ts';
import { eventually } from '../../helpers/agent-core.ts';
import { deliverEvent, subscribeUser } from '../../helpers/stripe-webhooks.ts';

/** Billing against a local fake of Stripe's API, with webhooks signed by the Stripe SDK's own test helper. */
let app: TestApp;
let stripe: FakeStripe;
let admin: Session;

test.before(async () => {
  stripe = await startFakeStripe();
  app = await startTestApp({ config: { billing: { stripe_secret_key: stripe.secretKey, stripe_webhook_secret: stripe.webhookSecret, stripe_api_base_url: stripe.url } } });
  admin = await loginAdmin(app);
});

test.after.always(async () => {
  await app?.close();
  await stripe?.close();
});

async function get(session: Session, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await app.request(path, bearer(session.access_token));
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function post(session: Session, path: string, body: unknown = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await app.request(path, bearer(session.access_token, json(body)));
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const deliver = (event: Record<string, unknown>, secret?: string) => deliverEvent(app, stripe, event, secret);

async function checkout(user: Session, plan = 'starter'): Promise<string> {
  const res = await post(user, '/api/billing/checkout', { plan });
  if (res.status !== 200) throw new Error(`checkout answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body.session_id as string;
}

test.serial('checkout → signed checkout.session.completed: the plan is active and the limits rise; the same event again changes nothing; a bad signature stores nothing', async (t) => {
  const user = await createUser(app, admin);
  t.like((await get(user, '/api/billing')).body, { plan: 'free', status: 'none', limits: { game_servers: 2, dev_containers: 2, backups_per_server: 3 } });

  const res = await post(user, '/api/billing/checkout', { plan: 'starter' });
  t.is(res.status, 200);
  t.regex(res.body.url as string, /^https:\/\/checkout\.stripe\.test\//);
  const session = stripe.sessions.get(res.body.session_id as string) as Record<string, unknown>;
  t.like(session, { mode: 'subscription', client_reference_id: user.user.id, line_items: [{ price: 'price_starter', quantity: '1' }] });
  const customer = stripe.customers.get(session.customer as string) as { metadata: Record<string, string> };
  t.is(customer.metadata.user_id, user.user.id, 'the customer carries our user id');

  const sub = stripe.completeCheckout(session.id as string);
  const event = stripe.event('checkout.session.completed', stripe.sessions.get(session.id as string) as Record<string, unknown>);

  // A forged delivery first: refused, and nothing recorded.
  const forged = await deliver(event, 'whsec_not_the_secret');
  t.is(forged.status, 400);
  t.is(forged.body.code, 'WEBHOOK_SIGNATURE_INVALID');
  t.is(
    await app.server.database
      .knex('billing_events')
      .where({ id: event.id as string })
      .first(),
    undefined,
  );
  t.is((await get(user, '/api/billing')).body.plan, 'free');

  const first = await deliver(event);
  t.is(first.status, 200);
  t.like(first.body, { received: true, duplicate: false });
  t.like((await get(user, '/api/billing')).body, { plan: 'starter', status: 'active', limits: { game_servers: 5, dev_containers: 4 } });
  const stored = await app.server.database.knex('billing_accounts').where({ user_id: user.user.id }).first<{ subscription_id: string; last_synced_at: Date }>();
  t.is(stored?.subscription_id, sub.id);

  // Stripe retries the same event: acknowledged, skipped, nothing changes.
  const retried = await deliver(event);
  t.like(retried.body, { received: true, duplicate: true });
  const after = await app.server.database.knex('billing_accounts').where({ user_id: user.user.id }).first<{ last_synced_at: Date }>();
  t.deepEqual(after?.last_synced_at, stored?.last_synced_at);
  t.is(
    Number(
      (
        await app.server.database
          .knex('billing_events')
          .where({ id: event.id as string })
          .count<Array<{ n: string }>>('* as n')
      )[0]?.n,
    ),
    1,
  );

  // A live subscription: a second checkout is refused.
  t.is((await post(user, '/api/billing/checkout', { plan: 'pro' })).status, 409);
});

test.serial('events out of order end in the same state as in order: updated (canceled in the portal) before checkout.session.completed', async (t) => {
  const user = await createUser(app, admin);
  const sessionId = await checkout(user);
  const sub = stripe.completeCheckout(sessionId);
  const completed = stripe.event('checkout.session.completed', stripe.sessions.get(sessionId) as Record<string, unknown>);
  // In the Customer Portal the user sets the subscription to cancel at period end.
  sub.cancel_at_period_end = true;
  const updated = stripe.event('customer.subscription.updated', sub);
  t.is((await deliver(updated)).status, 200);
  t.is((await deliver(completed)).status, 200);
  t.like((await get(user, '/api/billing')).body, { plan: 'starter', status: 'active', cancel_at_period_end: true });

  // The subscription ends: deleted arrives, the default plan applies again.
  sub.status = 'canceled';
  t.is((await deliver(stripe.event('customer.subscription.deleted', sub))).status, 200);
  t.like((await get(user, '/api/billing')).body, { plan: 'free', status: 'canceled', limits: { game_servers: 2 } });
});

test.serial('payment failure and recovery arrive by invoice events; billing.updated reaches the portal', async (t) => {
  const user = await createUser(app, admin);
  const events = await app.request('/api/events', bearer(user.access_token));
  const reader = events.body?.getReader();
  const sessionId = await checkout(user, 'pro');
  const sub = stripe.completeCheckout(sessionId);
  await deliver(stripe.event('checkout.session.completed', stripe.sessions.get(sessionId) as Record<string, unknown>));
  sub.status = 'past_due';
  await deliver(stripe.event('invoice.payment_failed', { id: 'in_1', object: 'invoice', subscription: sub.id, customer: sub.customer }));
  t.like((await get(user, '/api/billing')).body, { plan: 'pro', status: 'past_due' });
  sub.status = 'active';
  // Newer API versions name the subscription under parent.subscription_details.
  await deliver(stripe.event('invoice.paid', { id: 'in_2', object: 'invoice', parent: { subscription_details: { subscription: sub.id } }, customer: sub.customer }));
  t.like((await get(user, '/api/billing')).body, { plan: 'pro', status: 'active' });
  let text = '';
  await eventually(
    async () => {
      const chunk = await reader?.read();
      text += new TextDecoder().decode(chunk?.value);
      return text.includes('event: billing.updated') && text.includes('"status":"past_due"');
    },
    5_000,
    'billing.updated events',
  );
  await reader?.cancel();
  t.pass();
});

test('validation and configuration: unknown plan 400, the free plan 400, the portal needs a customer, plans are public', async (t) => {
  const user = await createUser(app, admin);
  t.like((await post(user, '/api/billing/checkout', { plan: 'gold' })).body, { code: 'PLAN_UNKNOWN' });
  t.like((await post(user, '/api/billing/checkout', { plan: 'free' })).body, { code: 'PLAN_NOT_PURCHASABLE' });
  t.is((await post(user, '/api/billing/checkout', {})).status, 400);
  t.like((await post(user, '/api/billing/portal')).body, { code: 'NO_BILLING_ACCOUNT' });
  await checkout(user);
  const portal = await post(user, '/api/billing/portal');
  t.is(portal.status, 200);
  t.regex(portal.body.url as string, /^https:\/\/billing\.stripe\.test\//);
  const plans = (await (await app.request('/api/billing/plans')).json()) as { plans: Array<{ id: string; amount: number }> };
  t.deepEqual(
    plans.plans.map((p) => p.id),
    ['free', 'starter', 'pro'],
  );
  t.like((await get(admin, '/api/billing')).body, { exempt: true, limits: null });
});

test('without Stripe keys, billing routes answer 503 BILLING_NOT_CONFIGURED and everyone has the default plan', async (t) => {
  const bare = await startTestApp({});
  try {
    const me = await loginAdmin(bare);
    const res = await bare.request('/api/billing/checkout', bearer(me.access_token, json({ plan: 'starter' })));
    t.is(res.status, 503);
    t.is(((await res.json()) as { code: string }).code, 'BILLING_NOT_CONFIGURED');
    const hook = await bare.request('/api/billing/webhook', { method: 'POST', body: '{}' });
    t.is(hook.status, 503);
    const state = await bare.request('/api/billing', bearer(me.access_token));
    t.is(state.status, 200);
  } finally {
    await bare.close();
  }
});

async function subscribed(plan: string): Promise<{ user: Session; sub: ReturnType<FakeStripe['completeCheckout']> }> {
  const user = await createUser(app, admin);
  return { user, sub: await subscribeUser(app, stripe, user.access_token, plan) };
}

test.serial('an upgrade whose payment fails leaves the old plan; once paid, the new plan applies', async (t) => {
  const { user, sub } = await subscribed('starter');
  t.like((await post(user, '/api/billing/upgrade', { plan: 'starter' })).body, { code: 'PLAN_UNCHANGED' });
  t.like((await post(user, '/api/billing/upgrade', { plan: 'free' })).body, { code: 'PLAN_NOT_PURCHASABLE' });
  const upgraded = await post(user, '/api/billing/upgrade', { plan: 'pro' });
  t.is(upgraded.status, 200);
  t.like(upgraded.body, { plan: 'starter', pending_plan: null }, 'not before it is paid');
  t.truthy(sub.pending_update, 'Stripe holds the change until the invoice is paid');

  // The prorated invoice fails: Stripe keeps the old price, and so do we.
  sub.status = 'past_due';
  await deliver(stripe.event('invoice.payment_failed', { id: 'in_up1', object: 'invoice', subscription: sub.id }));
  t.like((await get(user, '/api/billing')).body, { plan: 'starter', status: 'past_due' });

  // Paid after all: Stripe applies the pending update.
  sub.status = 'active';
  (sub.items.data[0] as { price: { id: string } }).price = { id: 'price_pro', object: 'price' } as never;
  sub.pending_update = null;
  await deliver(stripe.event('invoice.paid', { id: 'in_up2', object: 'invoice', subscription: sub.id }));
  t.like((await get(user, '/api/billing')).body, { plan: 'pro', status: 'active', limits: { game_servers: 20 } });
  t.like((await post(user, '/api/billing/upgrade', { plan: 'starter' })).body, { code: 'NOT_AN_UPGRADE' });
});

test.serial('a downgrade shows pending_plan until the period ends, then applies', async (t) => {
  const { user, sub } = await subscribed('pro');
  t.like((await post(user, '/api/billing/downgrade', { plan: 'pro' })).body, { code: 'PLAN_UNCHANGED' });
  const down = await post(user, '/api/billing/downgrade', { plan: 'starter' });
  t.is(down.status, 200);
  t.like(down.body, { plan: 'pro', pending_plan: 'starter', limits: { game_servers: 20 } });
  // Stripe already has the new price for the next period; a webhook in this period changes nothing.
  t.is((sub.items.data[0] as { price: { id: string } }).price.id, 'price_starter');
  await deliver(stripe.event('customer.subscription.updated', sub));
  t.like((await get(user, '/api/billing')).body, { plan: 'pro', pending_plan: 'starter' });

  // The period rolls over.
  const item = sub.items.data[0] as { current_period_start: number; current_period_end: number };
  item.current_period_start = item.current_period_end;
  item.current_period_end += 30 * 86_400;
  await deliver(stripe.event('customer.subscription.updated', sub));
  t.like((await get(user, '/api/billing')).body, { plan: 'starter', pending_plan: null, limits: { game_servers: 5 } });
});
