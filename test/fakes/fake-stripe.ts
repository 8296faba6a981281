import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for Stripe's API, speaking its wire format (form-encoded requests with
 * bracketed keys, JSON objects with `object`, `{error:{type,message}}` failures,
 * Idempotency-Key replay) for the endpoints the panel calls. It keeps state, so tests can
 * complete a checkout, change a subscription as the Customer Portal would, and build the
 * events Stripe would send.
 */
type Json = Record<string, unknown>;

export interface FakeSubscription extends Json {
  id: string;
  object: 'subscription';
  customer: string;
  status: string;
  cancel_at_period_end: boolean;
  metadata: Record<string, string>;
  items: { object: 'list'; data: Array<{ id: string; object: 'subscription_item'; price: { id: string; object: 'price' }; current_period_start: number; current_period_end: number }> };
  pending_update: Json | null;
}

export interface FakeStripe {
  url: string;
  secretKey: string;
  webhookSecret: string;
  customers: Map<string, Json>;
  sessions: Map<string, Json>;
  subscriptions: Map<string, FakeSubscription>;
  /** Requests seen, as `METHOD /path`. */
  calls: string[];
  /** Events Stripe would report as not delivered (`GET /v1/events?delivery_success=false`). */
  undelivered: Json[];
  /** What Checkout does once the customer pays: a subscription exists and the session points at it. */
  completeCheckout(sessionId: string, status?: string): FakeSubscription;
  /** A Stripe event object around a copy of `object`. */
  event(type: string, object: Json, createdAt?: number): Json;
  close(): Promise<void>;
}

const id = (prefix: string): string => `${prefix}_${randomBytes(12).toString('hex')}`;
const now = (): number => Math.floor(Date.now() / 1000);

/** `a[b][0][c]=v&x=y` → `{a:{b:[{c:'v'}]},x:'y'}` (Stripe's encoding). */
export function parseStripeForm(text: string): Json {
  const out: Json = {};
  for (const [rawKey, value] of new URLSearchParams(text)) {
    const path = rawKey.replace(/\]/g, '').split('[');
    let node: Json | unknown[] = out;
    path.forEach((part, i) => {
      const last = i === path.length - 1;
      const nextIsIndex = /^\d+$/.test(path[i + 1] ?? '');
      const key: string | number = Array.isArray(node) ? Number(part) : part;
      const container = node as Record<string | number, unknown>;
      if (last) container[key] = value;
      else {
        container[key] ??= nextIsIndex ? [] : {};
        node = container[key] as Json | unknown[];
      }
    });
  }
  return out;
}

export async function startFakeStripe(): Promise<FakeStripe> {
  const secretKey = `sk_test_${randomBytes(8).toString('hex')}`;
  const webhookSecret = `whsec_${randomBytes(16).toString('hex')}`;
  const customers = new Map<string, Json>();
  const sessions = new Map<string, Json>();
  const subscriptions = new Map<string, FakeSubscription>();
  const replays = new Map<string, { status: number; body: Json }>();
  const calls: string[] = [];
  const undelivered: Json[] = [];

  const send = (res: ServerResponse, status: number, body: Json): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Request-Id': id('req') });
    res.end(text);
  };
  const missing = (what: string, key: string): { status: number; body: Json } => ({
    status: 404,
    body: { error: { type: 'invalid_request_error', code: 'resource_missing', message: `No such ${what}: '${key}'` } },
  });

  const route = (method: string, path: string, form: Json): { status: number; body: Json } => {
    let m: RegExpExecArray | null;
    if (method === 'POST' && path === '/v1/customers') {
      const customer = { id: id('cus'), object: 'customer', email: form.email ?? null, metadata: form.metadata ?? {}, created: now() };
      customers.set(customer.id, customer);
      return { status: 200, body: customer };
    }
    if (method === 'GET' && (m = /^\/v1\/customers\/([^/]+)$/.exec(path))) {
      const customer = customers.get(m[1] as string);
      return customer ? { status: 200, body: customer } : missing('customer', m[1] as string);
    }
    if (method === 'POST' && path === '/v1/checkout/sessions') {
      const sid = id('cs_test');
      const session = {
        id: sid,
        object: 'checkout.session',
        mode: form.mode,
        customer: form.customer,
        client_reference_id: form.client_reference_id ?? null,
        line_items: form.line_items,
        metadata: form.metadata ?? {},
        subscription_data: form.subscription_data ?? {},
        success_url: form.success_url,
        cancel_url: form.cancel_url,
        status: 'open',
        subscription: null,
        url: `https://checkout.stripe.test/c/pay/${sid}`,
      };
      sessions.set(sid, session);
      return { status: 200, body: session };
    }
    if (method === 'GET' && (m = /^\/v1\/subscriptions\/([^/]+)$/.exec(path))) {
      const sub = subscriptions.get(m[1] as string);
      return sub ? { status: 200, body: sub } : missing('subscription', m[1] as string);
    }
    if (method === 'POST' && (m = /^\/v1\/subscriptions\/([^/]+)$/.exec(path))) {
      const sub = subscriptions.get(m[1] as string);
      if (!sub) return missing('subscription', m[1] as string);
      const items = form.items as Array<{ id?: string; price?: string }> | undefined;
      if (items?.[0]?.price) {
        // pending_if_incomplete: the price changes only once the invoice is paid (tests settle it).
        if (form.payment_behavior === 'pending_if_incomplete') sub.pending_update = { subscription_items: [{ price: { id: items[0].price } }], expires_at: now() + 82_800 };
        else (sub.items.data[0] as { price: { id: string } }).price = { id: items[0].price, object: 'price' } as never;
      }
      if (form.cancel_at_period_end !== undefined) sub.cancel_at_period_end = form.cancel_at_period_end === 'true';
      return { status: 200, body: sub };
    }
    if (method === 'GET' && path === '/v1/events') {
      return { status: 200, body: { object: 'list', url: '/v1/events', has_more: false, data: undelivered } };
    }
    if (method === 'POST' && path === '/v1/billing_portal/sessions') {
      if (!customers.has(String(form.customer))) return missing('customer', String(form.customer));
      return {
        status: 200,
        body: { id: id('bps'), object: 'billing_portal.session', customer: form.customer, return_url: form.return_url, url: `https://billing.stripe.test/p/session/${id('test')}` },
      };
    }
    return { status: 404, body: { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${method}: ${path})` } } };
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://stripe');
      calls.push(`${req.method} ${url.pathname}`);
      if (req.headers.authorization !== `Bearer ${secretKey}`) return send(res, 401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } });
      const key = req.headers['idempotency-key'];
      const replayKey = typeof key === 'string' ? `${req.method} ${url.pathname} ${key}` : null;
      const replay = replayKey ? replays.get(replayKey) : undefined;
      if (replay) return send(res, replay.status, replay.body);
      const answer = route(req.method ?? 'GET', url.pathname, parseStripeForm(req.method === 'GET' ? url.search.slice(1) : Buffer.concat(chunks).toString('utf8')));
      if (replayKey) replays.set(replayKey, answer);
      send(res, answer.status, answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    secretKey,
    webhookSecret,
    customers,
    sessions,
    subscriptions,
    calls,
    undelivered,
    completeCheckout(sessionId, status = 'active') {
      const session = sessions.get(sessionId);
      if (!session) throw new Error(`no checkout session ${sessionId}`);
      const price = ((session.line_items as Array<{ price: string }>)[0] as { price: string }).price;
      const start = now();
      const sub: FakeSubscription = {
        id: id('sub'),
        object: 'subscription',
        customer: String(session.customer),
        status,
        cancel_at_period_end: false,
        metadata: ((session.subscription_data as Json).metadata as Record<string, string>) ?? {},
        items: { object: 'list', data: [{ id: id('si'), object: 'subscription_item', price: { id: price, object: 'price' }, current_period_start: start, current_period_end: start + 30 * 86_400 }] },
        pending_update: null,
      };
      subscriptions.set(sub.id, sub);
      Object.assign(session, { status: 'complete', subscription: sub.id });
      return sub;
    },
    event(type, object, createdAt = now()) {
      return {
        id: id('evt'),
        object: 'event',
        api_version: '2026-10-28.endive',
        created: createdAt,
        livemode: false,
        pending_webhooks: 1,
        request: { id: null, idempotency_key: null },
        type,
        data: { object: structuredClone(object) },
      };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
