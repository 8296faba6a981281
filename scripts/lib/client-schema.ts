import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString, type OpenAPI3 } from 'openapi-typescript';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/core/log/logger.ts';
import { startServer } from '../../src/server.ts';
import { shippedPlugins } from '../../plugins/index.ts';
import { createTestDatabase } from '../../test/helpers/test-database.ts';

/** Where the typed client's generated types live (committed, checked by test/clients/typed-client-stale.test.ts). */
export const clientSchemaPath = fileURLToPath(new URL('../../clients/typescript/src/schema.d.ts', import.meta.url));

/** The `servers` entry of the document is the address the app is configured with; a client is given its own. */
const documentServerUrl = 'http://localhost:8080';

/**
 * The document `GET /openapi.json` serves with the default configuration and every shipped
 * plugin enabled: the real app on port 0 over a throwaway database (cloned from the tests'
 * migrated template), asked over HTTP, the way the tests read it. The document is built from
 * the routes the app mounts, so no other way of obtaining it can drift from what it serves.
 * Not startTestApp(): its raised rate limits and test settings are not what clients meet.
 */
export async function servedOpenApiDocument(): Promise<OpenAPI3> {
  const dataDir = mkdtempSync(join(tmpdir(), 'panel-client-schema-'));
  const testDatabase = await createTestDatabase();
  const config = loadConfig({
    env: {},
    overrides: [{ server: { port: 0, host: '127.0.0.1', public_url: documentServerUrl }, database: { data_dir: dataDir }, plugins: { enabled: shippedPlugins.map((p) => p.id) } }],
  });
  try {
    const server = await startServer({ config, log: createLogger('warn', process.stderr), availablePlugins: shippedPlugins, database: testDatabase.database, console: () => undefined });
    try {
      const res = await fetch(`${server.url}/openapi.json`);
      if (res.status !== 200) throw new Error(`GET /openapi.json answered ${res.status}: ${await res.text()}`);
      return (await res.json()) as OpenAPI3;
    } finally {
      await server.shutdown('client schema read');
    }
  } finally {
    await testDatabase.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Object keys sorted at every depth (arrays keep their order: it means something in JSON Schema), so the output never depends on mount order. */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sortedKeys((value as Record<string, unknown>)[key])]),
  );
}

export const clientSchemaHeader = `/**
 * GENERATED FILE, do not edit: the types of the panel's OpenAPI document (GET /openapi.json
 * with every shipped plugin enabled), made by openapi-typescript.
 *
 * Regenerate after changing a route, a schema or a summary:  npm run client:generate
 * test/clients/typed-client-stale.test.ts fails while this file differs from the document.
 */
`;

/** The text of schema.d.ts for a document: deterministic (sorted, no timestamp, no absolute paths). */
export async function renderClientSchema(document: OpenAPI3): Promise<string> {
  const ast = await openapiTS(sortedKeys(document) as OpenAPI3, { alphabetize: true, silent: true });
  return `${clientSchemaHeader}\n${astToString(ast)}`;
}
