import Stripe from 'stripe';
import type { TestApp } from './start-test-app.ts';
import type { FakeStripe } from '../fakes/fake-stripe.ts';

const signer = new Stripe('sk_test_signer');

/** POSTs an event to the webhook route as Stripe would: raw JSON, signed with the SDK's own test helper (or with another secret). */
export async function deliverEvent(app: TestApp, stripe: FakeStripe, event: Record<string, unknown>, secret = stripe.webhookSecret): Promise<{ status: number; body: Record<string, unknown> }> {
  const payload = JSON.stringify(event);
  const signature = signer.webhooks.generateTestHeaderString({ payload, secret });
  const res = await app.request('/api/billing/webhook', { method: 'POST', headers: { 'Content-Type': 'application/json', 'Stripe-Signature': signature }, body: payload });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Checkout for `plan`, paid, and the completion webhook delivered: the user is subscribed. */
export async function subscribeUser(app: TestApp, stripe: FakeStripe, accessToken: string, plan: string): Promise<ReturnType<FakeStripe['completeCheckout']>> {
  const res = await app.request('/api/billing/checkout', { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${accessToken}` }, body: JSON.stringify({ plan }) });
  const { session_id: sessionId } = (await res.json()) as { session_id: string };
  const sub = stripe.completeCheckout(sessionId);
  const delivered = await deliverEvent(app, stripe, stripe.event('checkout.session.completed', stripe.sessions.get(sessionId) as Record<string, unknown>));
  if (delivered.status !== 200) throw new Error(`the webhook answered ${delivered.status}: ${JSON.stringify(delivered.body)}`);
  return sub;
}
