import Stripe from 'stripe';
import type { FakeStripe } from '../fakes/fake-stripe.ts';
import { eventually } from '../helpers/agent-core.ts';
import { callApi, pool, Tally, type Reply } from './crash-client.ts';

/**
 * The five bursts the crash test kills the API in the middle of. Each runs until it is done or
 * `stopped()` (the API is dead), counting what the API acknowledged; what a burst left behind
 * is checked after the restart, against those counts and the invariants.
 */
export interface CrashSetup {
  /** The API's URL; the same after the restart (same port), as clients and agents keep it. */
  base: string;
  admin: string;
  /** A user on the free plan (2 game servers), creating more than that at once. */
  gamer: string;
  /** An active game server of the admin's with a completed backup, for backups and restores. */
  serverId: string;
  backupId: string;
  /** Users with a paid subscription in the fake Stripe whose webhooks are not yet delivered. */
  subscribers: Array<{ userId: string; subscriptionId: string; sessionId: string }>;
  /** A StreamSpace v1 token (admin) for the simulated agent's platform. */
  v1: string;
  platform: string;
}

export const isOk =
  (...statuses: number[]) =>
  (r: Reply): boolean =>
    statuses.includes(r.status);

export function registrations(setup: CrashSetup, stopped: () => boolean, n = 200): { tally: Tally; done: Promise<void> } {
  const tally = new Tally();
  const done = pool(
    n,
    4,
    (i) =>
      tally.run(
        `crash-user-${i}`,
        () => callApi(setup.base, 'POST', '/api/auth/register', undefined, { username: `crash-user-${i}`, email: `crash-user-${i}@example.test`, password: 'a long enough password' }),
        isOk(201),
      ),
    stopped,
  );
  return { tally, done };
}

/** The gamer asks for four servers at once (the plan allows two); the admin for two more. */
export function gameCreations(setup: CrashSetup, stopped: () => boolean): { tally: Tally; ids: string[]; done: Promise<void> } {
  const tally = new Tally();
  const ids: string[] = [];
  const create = (token: string, key: string) =>
    tally
      .run(key, () => callApi(setup.base, 'POST', '/api/game/servers', token, { name: key }), isOk(202))
      .then((r) => {
        const server = r?.status === 202 ? (r.body.server as { id: string }) : null;
        if (server) ids.push(server.id);
      });
  const done = pool(6, 3, (i) => (i < 4 ? create(setup.gamer, `gamer-${i}`) : create(setup.admin, `admin-${i}`)), stopped);
  return { tally, ids, done };
}

/** Backups and restores on one server, one after another: take one, restore the first, wait until it is active, again. */
export function backupsAndRestores(setup: CrashSetup, stopped: () => boolean): { backups: Tally; restores: Tally; done: Promise<void> } {
  const backups = new Tally();
  const restores = new Tally();
  const path = `/api/game/servers/${setup.serverId}`;
  const done = (async () => {
    for (let round = 0; round < 200 && !stopped(); round += 1) {
      await backups.run(`backup-${round}`, () => callApi(setup.base, 'POST', `${path}/backups`, setup.admin, { name: `crash-${round}` }), isOk(202));
      if (stopped()) return;
      await restores.run(`restore-${round}`, () => callApi(setup.base, 'POST', `${path}/backups/restore?id=${setup.backupId}`, setup.admin), isOk(202));
      await eventually(async () => stopped() || (await lifecycleOf(setup, path)) === 'active', 30_000, 'the restored server active').catch(() => undefined);
    }
  })();
  return { backups, restores, done };
}

async function lifecycleOf(setup: CrashSetup, path: string): Promise<string | undefined> {
  const reply = await callApi(setup.base, 'GET', path, setup.admin).catch(() => null);
  return (reply?.body.server as { state: { lifecycle: string } } | undefined)?.state.lifecycle;
}

const signer = new Stripe('sk_test_signer');

/** Signs and POSTs one event to the webhook route, as Stripe does. */
export function deliver(base: string, stripe: FakeStripe, event: Record<string, unknown>): Promise<Reply> {
  const payload = JSON.stringify(event);
  return callApi(base, 'POST', '/api/billing/webhook', undefined, payload, { 'Stripe-Signature': signer.webhooks.generateTestHeaderString({ payload, secret: stripe.webhookSecret }) });
}

/**
 * One lane per subscriber, as Stripe sends one subscription's events: the checkout
 * completion, then plan changes back and forth (the price changed in the fake first, as the
 * Customer Portal would) with their update events, and paid invoices, until the API dies.
 * Every event is kept, so those not acknowledged can be delivered again after the restart, as
 * Stripe retries them.
 */
export function webhooks(setup: CrashSetup, stripe: FakeStripe, stopped: () => boolean): { tally: Tally; events: Map<string, Record<string, unknown>>; done: Promise<void> } {
  const tally = new Tally();
  const events = new Map<string, Record<string, unknown>>();
  const send = (event: Record<string, unknown>) => {
    events.set(event.id as string, event);
    return tally.run(event.id as string, () => deliver(setup.base, stripe, event), isOk(200));
  };
  const lane = async (s: CrashSetup['subscribers'][number]): Promise<void> => {
    const sub = stripe.subscriptions.get(s.subscriptionId);
    if (!sub) throw new Error(`no subscription ${s.subscriptionId}`);
    await send(stripe.event('checkout.session.completed', stripe.sessions.get(s.sessionId) as Record<string, unknown>));
    for (let round = 1; round < 500 && !stopped(); round += 1) {
      (sub.items.data[0] as { price: { id: string } }).price = { id: round % 2 === 1 ? 'price_pro' : 'price_starter', object: 'price' } as never;
      await send(
        round % 3 === 0
          ? stripe.event('invoice.paid', { id: `in_${s.subscriptionId}_${round}`, object: 'invoice', subscription: s.subscriptionId })
          : stripe.event('customer.subscription.updated', sub),
      );
    }
  };
  return { tally, events, done: Promise.all(setup.subscribers.map(lane)).then(() => undefined) };
}

/** Sessions created, and those running hibernated, against the simulated agent (whose commands take a while). */
export function sessionCommands(setup: CrashSetup, stopped: () => boolean): { tally: Tally; ids: string[]; done: Promise<void> } {
  const tally = new Tally();
  const ids: string[] = [];
  const done = pool(
    30,
    2,
    async (i) => {
      const created = await tally.run(`session-${i}`, () => callApi(setup.base, 'POST', '/api/v1/sessions', setup.v1, { template: 'firefox-browser', platform: setup.platform }), isOk(200, 201, 202));
      const id = created && created.status < 300 ? (created.body.id as string) : null;
      if (!id) return;
      ids.push(id);
      if (i % 2 === 0) return;
      const state = async () => (await callApi(setup.base, 'GET', `/api/v1/sessions/${id}`, setup.v1).catch(() => null))?.body.state as string | undefined;
      await eventually(async () => stopped() || (await state()) === 'running', 10_000, 'the session running').catch(() => undefined);
      if (!stopped()) await tally.run(`hibernate-${i}`, () => callApi(setup.base, 'PATCH', `/api/v1/sessions/${id}`, setup.v1, { state: 'hibernated' }), isOk(200, 202));
    },
    stopped,
  );
  return { tally, ids, done };
}
