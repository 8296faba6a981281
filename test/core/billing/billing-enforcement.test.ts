import test from 'ava';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { createUser, loginAdmin, type Session } from '../../helpers/auth.ts';
import { eventually, registerAgent } from '../../helpers/agent-core.ts';
import { startFakeAgents, type FakeAgents } from '../../fakes/fake-agents.ts';
import { startFakeStripe, type FakeStripe } from '../../fakes/fake-stripe.ts';
import { deliverEvent, subscribeUser } from '../../helpers/stripe-webhooks.ts';
import { call, createServer, gameTestConfig, startGameApp, waitForServer } from '../../plugins/game/game-helpers.ts';
import type { GameServer } from '../../../plugins/game/game-server.ts';

/** What billing does to running instances: limits, a canceled subscription's suspension and its lifting, an overdue payment. */
let app: TestApp;
let stripe: FakeStripe;
let fakes: FakeAgents;
let admin: Session;

test.before(async () => {
  stripe = await startFakeStripe();
  fakes = await startFakeAgents();
  app = await startGameApp(gameTestConfig('static', { billing: { stripe_secret_key: stripe.secretKey, stripe_webhook_secret: stripe.webhookSecret, stripe_api_base_url: stripe.url } }));
  admin = await loginAdmin(app);
});

test.after.always(async () => {
  await app?.close();
  await fakes?.close();
  await stripe?.close();
});

async function deliver(event: Record<string, unknown>): Promise<void> {
  const res = await deliverEvent(app, stripe, event);
  if (res.status !== 200) throw new Error(`webhook answered ${res.status}: ${JSON.stringify(res.body)}`);
}

const subscribe = (user: Session, plan: string) => subscribeUser(app, stripe, user.access_token, plan);

async function activeServers(user: Session, n: number): Promise<GameServer[]> {
  const servers: GameServer[] = [];
  for (let i = 0; i < n; i += 1) {
    await registerAgent(app, admin, fakes);
    servers.push(await createServer(app, user, `Billed ${i}`));
  }
  return Promise.all(servers.map((s) => waitForServer(app, user, s.id, (x) => x.state.lifecycle === 'active', 'active', 15_000)));
}

test.serial('over the plan: 402; a canceled subscription suspends what the default plan does not cover (newest first), and paying again lifts it', async (t) => {
  const user = await createUser(app, admin);
  const free = await call(app, user, 'GET', '/api/billing');
  t.like(free.body, { plan: 'free', limits: { game_servers: 2 } });
  const sub = await subscribe(user, 'starter');
  const servers = await activeServers(user, 3);

  // The subscription ends: the free plan allows 2, so the newest server is suspended and its agent told to stop.
  sub.status = 'canceled';
  await deliver(stripe.event('customer.subscription.deleted', sub));
  const newest = servers[2] as GameServer;
  const suspended = await waitForServer(app, user, newest.id, (s) => s.state.lifecycle === 'suspended', 'suspended', 5_000);
  t.regex(suspended.lifecycle_reason ?? '', /^billing:/);
  for (const kept of servers.slice(0, 2)) t.is(((await call(app, user, 'GET', `/api/game/servers/${kept.id}`)).body.server as GameServer).state.lifecycle, 'active');
  t.like((await call(app, user, 'POST', `/api/game/servers/${newest.id}/start`)).body, { code: 'INSTANCE_NOT_ACTIVE' });
  const over = await call(app, user, 'POST', '/api/game/servers', { name: 'one more' });
  t.is(over.status, 402);
  t.is(over.body.code, 'PLAN_LIMIT_REACHED');

  // Paying again lifts the suspension.
  await subscribe(user, 'starter');
  await waitForServer(app, user, newest.id, (s) => s.state.lifecycle === 'active', 'active again', 5_000);
  t.pass();
});

test.serial('a payment overdue beyond the grace blocks creating and starting (402 BILLING_PAST_DUE), not stopping; admins are never limited', async (t) => {
  const user = await createUser(app, admin);
  const sub = await subscribe(user, 'starter');
  const [server] = await activeServers(user, 1);
  sub.status = 'past_due';
  await deliver(stripe.event('invoice.payment_failed', { id: 'in_late', object: 'invoice', subscription: sub.id }));
  // Within the grace: still fine.
  t.is((await call(app, user, 'POST', `/api/game/servers/${server?.id}/start`)).status, 202);
  await app.server.database
    .knex('billing_accounts')
    .where({ user_id: user.user.id })
    .update({ past_due_since: new Date(Date.now() - 8 * 86_400_000) });
  const blocked = await call(app, user, 'POST', '/api/game/servers', { name: 'late' });
  t.is(blocked.status, 402);
  t.is(blocked.body.code, 'BILLING_PAST_DUE');
  t.is((await call(app, user, 'POST', `/api/game/servers/${server?.id}/restart`)).body.code, 'BILLING_PAST_DUE');
  t.is((await call(app, user, 'POST', `/api/game/servers/${server?.id}/stop`)).status, 202);
  // An admin acting on the server is not held back, and admins' own creation is unlimited.
  await eventually(async () => ((await call(app, admin, 'GET', `/api/game/servers/${server?.id}`)).body.server as GameServer).state.status === 'stopped', 5_000, 'stopped');
  t.is((await call(app, admin, 'POST', `/api/game/servers/${server?.id}/start`)).status, 202);
  t.like((await call(app, admin, 'GET', '/api/billing')).body, { exempt: true, limits: null });
});
