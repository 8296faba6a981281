import test from 'ava';
import { readFileSync } from 'node:fs';
import type { OpenAPI3 } from 'openapi-typescript';
import { clientSchemaPath, renderClientSchema, servedOpenApiDocument } from '../../scripts/lib/client-schema.ts';

/**
 * The typed client's committed types must be what the served document gives today: a route,
 * schema or summary changed without `npm run client:generate` fails here, before a client
 * compiled against stale types meets the real API.
 */
let document: OpenAPI3;
let committed: string;
let fresh: string;

test.before(async () => {
  document = await servedOpenApiDocument();
  committed = readFileSync(clientSchemaPath, 'utf8');
  fresh = await renderClientSchema(document);
});

/** Where two texts first differ, as the line numbers and both lines, so the failure says what changed. */
function firstDifference(expected: string, actual: string): string {
  const a = expected.split('\n');
  const b = actual.split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); i += 1) {
    if (a[i] !== b[i]) return `line ${i + 1}: committed ${JSON.stringify(a[i] ?? '(end of file)')}, document gives ${JSON.stringify(b[i] ?? '(end of file)')}`;
  }
  return 'no difference';
}

test('clients/typescript/src/schema.d.ts is what GET /openapi.json gives now', (t) => {
  if (fresh !== committed) t.fail(`clients/typescript/src/schema.d.ts is stale: run \`npm run client:generate\` and commit it (first difference at ${firstDifference(committed, fresh)})`);
  else t.pass();
});

test('the comparison notices a changed summary, and generating twice gives the same text', async (t) => {
  const changed = structuredClone(document);
  const item = changed.paths?.['/api/auth/login'];
  const login = item !== undefined && 'post' in item ? item.post : undefined;
  if (!login) return t.fail('the document has no POST /api/auth/login');
  login.summary = `${login.summary ?? ''} (changed)`;
  const [again, other] = await Promise.all([renderClientSchema(document), renderClientSchema(changed)]);
  t.is(again, fresh);
  t.not(other, fresh);
  t.regex(firstDifference(fresh, other), /\(changed\)/);
});
