import type { ExecutionContext } from 'ava';
import type { call } from './ss-helpers.ts';

/** The check error-codes*.test.ts make of every error answer. */
export type Answer = Awaited<ReturnType<typeof call>>;

/** Status, code and the seed's whole envelope; `field` is the addendum's `details.field`. */
export function assertError(t: ExecutionContext, res: Answer, status: number, code: string, field?: string): void {
  t.is(res.status, status, JSON.stringify(res.body));
  const body = (res.body ?? {}) as Record<string, unknown>;
  t.is(body.code, code, JSON.stringify(body));
  for (const key of ['error', 'message', 'code', 'timestamp', 'request_id']) t.true(typeof body[key] === 'string' && body[key] !== '', `envelope field '${key}' in ${JSON.stringify(body)}`);
  t.false(Number.isNaN(Date.parse(String(body.timestamp))), 'timestamp is a date');
  if (field !== undefined) t.is((body.details as { field?: unknown } | undefined)?.field, field, JSON.stringify(body.details));
}
