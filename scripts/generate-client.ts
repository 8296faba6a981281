import { readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { clientSchemaPath, renderClientSchema, servedOpenApiDocument } from './lib/client-schema.ts';

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(`Usage: npm run client:generate [-- --check]

Regenerates clients/typescript/src/schema.d.ts, the types of the typed client, from the
OpenAPI document the API serves: starts the app in-process (every shipped plugin, default
configuration, a throwaway database, port 0), reads GET /openapi.json and runs
openapi-typescript on it. The output is deterministic (sorted, no timestamp), so it only
changes when the document does. Run it after changing a route, a schema or a summary;
test/clients/typed-client-stale.test.ts fails until you do.

  --check     write nothing; exit 1 if the committed file differs from the document
  -h, --help  show this help

Uses TEST_DATABASE_URL when set (a PostgreSQL server), otherwise embedded PGlite.
`);
  process.exit(0);
}

const fresh = await renderClientSchema(await servedOpenApiDocument());
const name = relative(process.cwd(), clientSchemaPath);
let committed: string | null = null;
try {
  committed = readFileSync(clientSchemaPath, 'utf8');
} catch {
  // not generated yet
}
if (process.argv.includes('--check')) {
  if (committed === fresh) process.stdout.write(`${name} is up to date.\n`);
  else {
    process.stderr.write(`${name} differs from GET /openapi.json: run npm run client:generate\n`);
    process.exitCode = 1;
  }
} else if (committed === fresh) {
  process.stdout.write(`${name} is up to date; nothing written.\n`);
} else {
  writeFileSync(clientSchemaPath, fresh);
  process.stdout.write(`${name} written (${fresh.split('\n').length} lines).\n`);
}
