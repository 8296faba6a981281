import { fileURLToPath } from 'node:url';
import { errorEnvelopeSchema } from '../../src/core/http/error-envelope.ts';
import type { FuzzAnswer } from './fuzz-http.ts';
import type { Operation } from './fuzz-operations.ts';

/** What the oracle knows about the request beyond its bytes. */
export interface Sent {
  /** The caller is not signed in (none, or a forged or foreign token) on a protected route. */
  mustBeUnauthorized: boolean;
  /** Another user using the owner's ids: any 2xx is a leak. */
  mustBeRefused: boolean;
  /** A signed-in user who is not an admin on an admin route: 403 and nothing else. */
  mustBeForbidden: boolean;
  /** The X-Request-Id sent, when it was a valid one to echo. */
  requestId: string | undefined;
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Text that only an internal error puts in a body: stacks, SQL, the driver's and knex's words, our files. */
const leaks: Array<[string, RegExp]> = [
  ['a stack trace', /\bat (?:async )?[\w$.<>]+ \(|\.(?:ts|js|mjs):\d+:\d+/],
  ['SQL', /\b(?:select\s[\s\S]{0,200}?\sfrom|insert\s+into|update\s+"?\w+"?\s+set|delete\s+from)\s+"?\w/i],
  [
    'a database error',
    /syntax error at or near|violates (?:unique|foreign key|not-null|check) constraint|relation "[^"]+" does not exist|invalid input syntax for|invalid byte sequence for encoding|unsupported Unicode escape|\bknex\b|KnexTimeoutError|\bpg_\w+|SQLSTATE|\bpglite\b/i,
  ],
  ['a file path of the server', new RegExp(`node_modules|${repoRoot.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`)],
];

const envelopeKeys = ['code', 'details', 'error', 'message', 'request_id', 'timestamp'];

/** Every rule the answer breaks (empty: it is a good answer). */
export function judge(op: Operation, sent: Sent, answer: FuzzAnswer, secrets: string[]): string[] {
  const problems: string[] = [];
  const { status } = answer;
  if (status >= 500 && (status === 500 || !op.declared.has(status))) problems.push(`answered ${status}, which is not a 5xx this operation declares`);
  if (sent.mustBeUnauthorized && status !== 401) problems.push(`answered ${status} to a caller who is not signed in (401 expected first)`);
  if (sent.mustBeForbidden && status !== 403) problems.push(`answered ${status} to a user who is not an admin on an admin route (403 expected first)`);
  if (sent.mustBeRefused && status >= 200 && status < 300) problems.push(`answered ${status} to another user on the owner's ids`);
  const header = answer.headers['x-request-id'];
  if (typeof header !== 'string' || header === '') problems.push('no X-Request-Id header');
  else if (sent.requestId !== undefined && header !== sent.requestId) problems.push(`X-Request-Id ${header} is not the one sent (${sent.requestId})`);
  if (status >= 400) {
    let body: unknown;
    try {
      body = JSON.parse(answer.body);
    } catch {
      problems.push(`a ${status} whose body is not JSON: ${answer.body.slice(0, 120)}`);
    }
    if (body !== undefined) {
      const parsed = errorEnvelopeSchema.safeParse(body);
      if (!parsed.success) problems.push(`a ${status} whose body is not the error envelope: ${answer.body.slice(0, 200)}`);
      else {
        const extra = Object.keys(parsed.data).filter((k) => !envelopeKeys.includes(k) && k !== 'retry_after');
        if (extra.length > 0) problems.push(`the envelope has extra keys ${extra.join(', ')}`);
        if (parsed.data.request_id !== header) problems.push(`request_id ${parsed.data.request_id} is not the X-Request-Id header ${String(header)}`);
      }
    }
  }
  for (const [what, pattern] of leaks) if (pattern.test(answer.body)) problems.push(`the body shows ${what}: ${answer.body.slice(0, 200)}`);
  for (const secret of secrets) if (secret !== '' && answer.body.includes(secret)) problems.push('the body shows a secret or a server path');
  return problems;
}
