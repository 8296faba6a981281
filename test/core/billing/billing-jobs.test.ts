import test from 'ava';
import { startTestApp, type TestApp } from '../../helpers/start-test-app.ts';
import { bearer, createUser, json, loginAdmin, type Session } from '../../helpers/auth.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-database.ts';
import { startFakeStripe, type FakeStripe } from '../../fakes/fake-stripe.ts';
import { subscribeUser } from '../../helpers/stripe-webhooks.ts';

/** Reminders (once, across replicas), reconciliation (drift and undelivered events), and the admin billing tools. */
let db: TestDatabase;
let first: TestApp;
let second: TestApp;
let stripe: FakeStripe;
let admin: Session;

test.before(async () => {
  stripe = await startFakeStripe();
  db = await createTestDatabase();
  const config = { billing: { stripe_secret_key: stripe.secretKey, stripe_webhook_secret: stripe.webhookSecret, stripe_api_base_url: stripe.url } };
  first = await startTestApp({ config, testDatabase: db });
  // A second replica on the same database (PostgreSQL); on the embedded one only a single process may open it.
  second = db.database.engine === 'postgres' ? await startTestApp({ config, testDatabase: db }) : first;
  admin = await loginAdmin(first);
});

test.after.always(async () => {
  if (second !== first) await second?.close();
  await first?.close();
  await stripe?.close();
  await db?.drop();
});

async function call(session: Session, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await first.request(path, bearer(session.access_token, body === undefined ? { method } : { ...json(body), method }));
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const subscribe = (user: Session, plan = 'starter') => subscribeUser(first, stripe, user.access_token, plan);

test.serial('two app instances running the reminder job at the same moment send each reminder once', async (t) => {
  const user = await createUser(first, admin);
  const sub = await subscribe(user);
  sub.status = 'past_due';
  await call(admin, 'POST', `/api/admin/billing/accounts/${user.user.id}/sync`);
  const slot = new Date();
  const outcomes = await Promise.all([first.server.scheduler.fire('core.billing-reminders', slot), second.server.scheduler.fire('core.billing-reminders', new Date(slot.getTime() + 1))]);
  t.true(outcomes.includes('ok'));
  // And again later, as the next run would: still once.
  await first.server.scheduler.fire('core.billing-reminders', new Date(slot.getTime() + 60_000));
  const mails = await first.server.auth.outbox.list(user.user.email);
  t.deepEqual(
    mails.map((m) => m.subject),
    ['Your payment failed'],
  );
});

test.serial('reconciliation repairs drift nobody announced and replays undelivered events; exempt accounts keep no limits', async (t) => {
  const drifted = await createUser(first, admin);
  const sub = await subscribe(drifted, 'pro');
  // Canceled in Stripe's dashboard; the webhook never came.
  sub.status = 'canceled';
  const fresh = await createUser(first, admin);
  const { session_id: sessionId } = (await call(fresh, 'POST', '/api/billing/checkout', { plan: 'starter' })).body as { session_id: string };
  stripe.completeCheckout(sessionId);
  stripe.undelivered.push(stripe.event('checkout.session.completed', stripe.sessions.get(sessionId) as Record<string, unknown>));

  const run = await call(admin, 'POST', '/api/admin/billing/reconcile');
  t.is(run.status, 200);
  t.true((run.body.checked as number) >= 1);
  t.is(run.body.replayed, 1);
  t.like((await call(drifted, 'GET', '/api/billing')).body, { plan: 'free', status: 'canceled' });
  t.like((await call(fresh, 'GET', '/api/billing')).body, { plan: 'starter', status: 'active' });
  t.is((await call(admin, 'POST', '/api/admin/billing/reconcile')).body.replayed, 0, 'a replayed event is not replayed again');

  // Exempt: whatever Stripe says, no limits; reconciliation does not take that away.
  t.is((await call(admin, 'PATCH', `/api/admin/billing/accounts/${drifted.user.id}`, { exempt: true })).status, 200);
  await call(admin, 'POST', '/api/admin/billing/reconcile');
  t.like((await call(drifted, 'GET', '/api/billing')).body, { exempt: true, limits: null, status: 'canceled' });
});

test.serial('admin tools: accounts by status and search, one account with its events, events by type; users get 403', async (t) => {
  const user = await createUser(first, admin);
  await subscribe(user, 'starter');
  const active = await call(admin, 'GET', '/api/admin/billing/accounts?status=active&limit=100');
  t.true((active.body.accounts as Array<{ user_id: string }>).some((a) => a.user_id === user.user.id));
  const found = await call(admin, 'GET', `/api/admin/billing/accounts?q=${encodeURIComponent(user.user.username)}`);
  t.deepEqual(
    (found.body.accounts as Array<{ user_id: string; plan: string }>).map((a) => [a.user_id, a.plan]),
    [[user.user.id, 'starter']],
  );
  const none = await call(admin, 'GET', '/api/admin/billing/accounts?status=none&limit=100');
  t.true(
    (none.body.accounts as Array<{ username: string }>).some((a) => a.username === 'admin'),
    'users without an account are listed as none',
  );
  const one = await call(admin, 'GET', `/api/admin/billing/accounts/${user.user.id}`);
  t.like(one.body.account, { status: 'active', plan: 'starter' });
  t.like((one.body.events as Array<Record<string, unknown>>)[0], { type: 'checkout.session.completed', outcome: 'applied' });
  const events = await call(admin, 'GET', '/api/admin/billing/events?type=checkout.session.completed');
  t.true((events.body.events as unknown[]).length >= 1);
  t.is((await call(user, 'GET', '/api/admin/billing/accounts')).status, 403);
  t.is((await call(admin, 'GET', '/api/admin/billing/accounts/00000000-0000-4000-8000-000000000000')).status, 404);
});
