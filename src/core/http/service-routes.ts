import { timingSafeEqual, createHash } from 'node:crypto';
import { z } from 'zod';
import type { Registry } from 'prom-client';
import { NotFoundError, ServiceUnavailableError, UnauthorizedError } from './errors.ts';
import { defineRoute, type RouteDefinition } from './route.ts';

export interface ServiceRouteDeps {
  /** Throws when the database is unreachable or migrations are pending. */
  checkReady(): Promise<void>;
  isDraining: () => boolean;
  openApiDocument(): Record<string, unknown>;
  metricsRegistry: Registry;
  metricsToken: string | null;
}

function sameSecret(given: string, expected: string): boolean {
  // Hash both sides so the comparison takes the same time whatever the lengths.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

const statusBody = z.object({ status: z.enum(['ok']) });
/** prom-client's Registry.contentType for the text format, as the OpenAPI media type of /metrics. */
const metricsContentType = 'text/plain; version=0.0.4; charset=utf-8';

export function serviceRoutes(deps: ServiceRouteDeps): RouteDefinition[] {
  return [
    defineRoute({
      method: 'get',
      path: '/healthz',
      summary: 'Liveness: the process is up',
      tags: ['service'],
      auth: 'none',
      responses: { 200: statusBody },
      examples: { responses: { 200: { status: 'ok' } } },
      handler: async () => ({ body: { status: 'ok' } }),
    }),
    defineRoute({
      method: 'get',
      path: '/readyz',
      summary: 'Readiness: database reachable and migrated, not shutting down',
      tags: ['service'],
      auth: 'none',
      responses: { 200: statusBody },
      examples: { responses: { 200: { status: 'ok' } } },
      errors: { 503: 'Shutting down (SHUTTING_DOWN), migrations pending (MIGRATIONS_PENDING) or the database unreachable (DATABASE_UNAVAILABLE)' },
      handler: async () => {
        if (deps.isDraining()) throw new ServiceUnavailableError('SHUTTING_DOWN', 'This instance is shutting down; send traffic elsewhere');
        await deps.checkReady();
        return { body: { status: 'ok' } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/openapi.json',
      summary: 'This API as an OpenAPI 3.1 document',
      tags: ['service'],
      auth: 'none',
      responses: { 200: z.record(z.string(), z.unknown()).describe('An OpenAPI 3.1 document') },
      examples: { responses: { 200: { openapi: '3.1.0', info: { title: 'Hosting panel API', version: '1' }, paths: {} } } },
      handler: async () => ({ body: deps.openApiDocument() }),
    }),
    defineRoute({
      method: 'get',
      path: '/metrics',
      summary: 'Prometheus metrics (bearer METRICS_TOKEN; 404 when no token is configured)',
      tags: ['service'],
      // Not a user's token: the handler checks the configured metrics token itself.
      auth: 'none',
      securityScheme: { name: 'metricsToken', scheme: { type: 'http', scheme: 'bearer', description: 'The configured metrics token (METRICS_TOKEN), not a user token' } },
      contentType: metricsContentType,
      responses: { 200: z.string().describe('The Prometheus text exposition format') },
      errors: { 401: 'Missing or wrong metrics token (AUTH_TOKEN_INVALID)', 404: 'No metrics token is configured, so metrics are off (NOT_FOUND)' },
      examples: {
        responses: {
          200: '# HELP panel_http_requests_total HTTP requests by route and status\n# TYPE panel_http_requests_total counter\npanel_http_requests_total{method="GET",route="/healthz",status="200"} 3\n',
        },
      },
      handler: async ({ headers }) => {
        if (deps.metricsToken === null) throw new NotFoundError();
        const header = headers.authorization ?? '';
        const given = header.startsWith('Bearer ') ? header.slice(7) : '';
        if (!sameSecret(given, deps.metricsToken)) throw new UnauthorizedError('AUTH_TOKEN_INVALID', 'Send the metrics token as a bearer token');
        return {
          body: await deps.metricsRegistry.metrics(),
          headers: { 'Content-Type': deps.metricsRegistry.contentType },
        };
      },
    }),
  ];
}
