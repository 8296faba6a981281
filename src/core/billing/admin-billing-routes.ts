import { z } from 'zod';
import type { Knex } from 'knex';
import { defineRoute, type RouteDefinition } from '../http/route.ts';
import { ConflictError, NotFoundError } from '../http/errors.ts';
import { fetchPage, paginationOf, paginationQuery, paginationSchema } from '../http/pagination.ts';
import type { BillingService } from './billing-service.ts';
import { subscriptionFields } from './billing-routes.ts';
import { billingStatuses, type AccountRow } from './billing-accounts.ts';

const accountSchema = subscriptionFields
  .extend({
    user_id: z.uuid(),
    username: z.string(),
    email: z.string(),
    stripe_customer_id: z.string().nullable(),
    subscription_id: z.string().nullable(),
    last_synced_at: z.iso.datetime().nullable(),
  })
  .meta({ id: 'BillingAccount' });
const eventSchema = z
  .object({ id: z.string(), type: z.string(), user_id: z.uuid().nullable(), stripe_created_at: z.iso.datetime(), received_at: z.iso.datetime(), outcome: z.string(), detail: z.string().nullable() })
  .meta({ id: 'StripeEvent' });
const userParams = z.object({ user_id: z.uuid() });

/** For the OpenAPI document. */
const exampleAccount = {
  user_id: '6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21',
  username: 'alice',
  email: 'alice@mail.test',
  plan: 'pro',
  status: 'active',
  exempt: false,
  current_period_end: '2026-12-20T08:00:00.000Z',
  cancel_at_period_end: false,
  pending_plan: null,
  stripe_customer_id: 'cus_R2x9QeXample',
  subscription_id: 'sub_1QeXampleAbc',
  last_synced_at: '2026-11-23T09:00:00.000Z',
};
const exampleEvent = {
  id: 'evt_1QeXampleAbc',
  type: 'customer.subscription.updated',
  user_id: exampleAccount.user_id,
  stripe_created_at: '2026-11-20T08:00:01.000Z',
  received_at: '2026-11-20T08:00:02.000Z',
  outcome: 'applied',
  detail: null,
};

type Row = Partial<AccountRow> & { id: string; username: string; email: string; role: string };
type EventRow = { id: string; type: string; user_id: string | null; stripe_created_at: Date; received_at: Date; outcome: string; detail: string | null };
const iso = (d: Date | null | undefined): string | null => (d ? new Date(d).toISOString() : null);
const toEvent = (e: EventRow) => ({ ...e, stripe_created_at: new Date(e.stripe_created_at).toISOString(), received_at: new Date(e.received_at).toISOString() });

/** Admin billing tools: accounts (every user, with or without a subscription), exemption, forced sync, webhook events, reconciliation on demand. */
export function adminBillingRoutes(db: Knex, billing: BillingService, runReconcile: () => Promise<{ checked: number; replayed: number }>): RouteDefinition[] {
  const present = (r: Row) => ({
    user_id: r.id,
    username: r.username,
    email: r.email,
    plan: billing.planOf(r.status ? (r as AccountRow) : undefined).id,
    status: r.status ?? 'none',
    exempt: r.role === 'admin' || r.exempt === true,
    current_period_end: iso(r.current_period_end),
    cancel_at_period_end: r.cancel_at_period_end ?? false,
    pending_plan: r.pending_plan ?? null,
    stripe_customer_id: r.stripe_customer_id ?? null,
    subscription_id: r.subscription_id ?? null,
    last_synced_at: iso(r.last_synced_at),
  });
  const accounts = () => db('users as u').leftJoin('billing_accounts as a', 'a.user_id', 'u.id');
  const columns = [
    'u.id',
    'u.username',
    'u.email',
    'u.role',
    'a.plan',
    'a.status',
    'a.exempt',
    'a.current_period_end',
    'a.cancel_at_period_end',
    'a.pending_plan',
    'a.stripe_customer_id',
    'a.subscription_id',
    'a.last_synced_at',
  ];
  const one = async (userId: string) => {
    const row = await accounts().where('u.id', userId).first<Row | undefined>(columns);
    if (!row) throw new NotFoundError('user', userId);
    return present(row);
  };
  return [
    defineRoute({
      method: 'get',
      path: '/api/admin/billing/accounts',
      summary: 'Billing accounts of every user, filterable by status and searchable by username or email',
      tags: ['admin', 'billing'],
      auth: 'admin',
      request: { query: paginationQuery.extend({ status: z.enum(billingStatuses).optional(), q: z.string().max(100).optional().describe('part of a username or email') }) },
      responses: { 200: z.object({ accounts: z.array(accountSchema), pagination: paginationSchema }) },
      examples: { responses: { 200: { accounts: [exampleAccount], pagination: { page: 1, limit: 20, total: 1, total_pages: 1 } } } },
      handler: async ({ query }) => {
        const base = accounts().modify((qb) => {
          if (query.status === 'none') void qb.where((w) => void w.whereNull('a.status').orWhere('a.status', 'none'));
          else if (query.status) void qb.where('a.status', query.status);
          if (query.q) void qb.where((w) => void w.whereILike('u.username', `%${query.q}%`).orWhereILike('u.email', `%${query.q}%`));
        });
        const { rows, total } = await fetchPage<Row>(base, query.page, query.limit, (q) => q.orderBy('u.created_at', 'desc').select(columns));
        return { body: { accounts: rows.map(present), pagination: paginationOf(query.page, query.limit, total) } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/admin/billing/accounts/:user_id',
      summary: 'One billing account with its recent Stripe events',
      tags: ['admin', 'billing'],
      auth: 'admin',
      request: { params: userParams },
      responses: { 200: z.object({ account: accountSchema, events: z.array(eventSchema) }) },
      examples: { responses: { 200: { account: exampleAccount, events: [exampleEvent] } } },
      handler: async ({ params }) => {
        const account = await one(params.user_id);
        const events = await db<EventRow>('billing_events').where({ user_id: params.user_id }).orderBy('received_at', 'desc').limit(20);
        return { body: { account, events: events.map(toEvent) } };
      },
    }),
    defineRoute({
      method: 'patch',
      path: '/api/admin/billing/accounts/:user_id',
      summary: 'Sets or clears billing exemption (an exempt user has no plan limits, whatever Stripe says)',
      tags: ['admin', 'billing'],
      auth: 'admin',
      request: { params: userParams, body: z.strictObject({ exempt: z.boolean() }) },
      responses: { 200: z.object({ account: accountSchema }) },
      examples: { body: { exempt: true }, responses: { 200: { account: { ...exampleAccount, exempt: true } } } },
      handler: async ({ params, body }) => {
        await one(params.user_id);
        const row = await billing.accounts.setExempt(params.user_id, body.exempt);
        await billing.announce(row);
        return { body: { account: await one(params.user_id) } };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/admin/billing/accounts/:user_id/sync',
      summary: "Reads the user's subscription from Stripe now and stores it",
      tags: ['admin', 'billing'],
      auth: 'admin',
      request: { params: userParams },
      responses: { 200: z.object({ account: accountSchema }) },
      examples: { responses: { 200: { account: exampleAccount } } },
      errors: { 409: 'The user has no subscription (NO_SUBSCRIPTION)', 503: 'Stripe is not configured (BILLING_NOT_CONFIGURED)' },
      handler: async ({ params }) => {
        const account = await one(params.user_id);
        if (!account.subscription_id) throw new ConflictError('NO_SUBSCRIPTION', 'This user has no subscription to sync');
        await billing.sync(params.user_id, account.subscription_id);
        return { body: { account: await one(params.user_id) } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/admin/billing/events',
      summary: 'Stripe webhook events received, newest first, with how each was handled',
      tags: ['admin', 'billing'],
      auth: 'admin',
      request: { query: paginationQuery.extend({ type: z.string().max(100).optional(), outcome: z.string().max(40).optional(), user_id: z.uuid().optional() }) },
      responses: { 200: z.object({ events: z.array(eventSchema), pagination: paginationSchema }) },
      examples: { responses: { 200: { events: [exampleEvent], pagination: { page: 1, limit: 20, total: 1, total_pages: 1 } } } },
      handler: async ({ query }) => {
        const base = db<EventRow>('billing_events').modify((qb) => {
          if (query.type) void qb.where({ type: query.type });
          if (query.outcome) void qb.where({ outcome: query.outcome });
          if (query.user_id) void qb.where({ user_id: query.user_id });
        });
        const { rows, total } = await fetchPage<EventRow>(base, query.page, query.limit, (q) => q.orderBy('received_at', 'desc').select('*'));
        return { body: { events: rows.map(toEvent), pagination: paginationOf(query.page, query.limit, total) } };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/admin/billing/reconcile',
      summary: 'Runs the reconciliation now: re-reads stale or unsettled subscriptions and replays undelivered events',
      tags: ['admin', 'billing'],
      auth: 'admin',
      responses: { 200: z.object({ checked: z.number().int(), replayed: z.number().int() }) },
      examples: { responses: { 200: { checked: 12, replayed: 1 } } },
      handler: async () => ({ body: await runReconcile() }),
    }),
  ];
}
