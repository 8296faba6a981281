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

export function serviceRoutes(deps: ServiceRouteDeps): RouteDefinition[] {
  return [
    defineRoute({
      method: 'get',
      path: '/healthz',
      summary: 'Liveness: the process is up',
      tags: ['service'],
      auth: 'none',
      responses: { 200: statusBody },
      handler: async () => ({ body: { status: 'ok' } }),
    }),
    defineRoute({
      method: 'get',
      path: '/readyz',
      summary: 'Readiness: database reachable and migrated, not shutting down',
      tags: ['service'],
      auth: 'none',
      responses: { 200: statusBody, 503: null },
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
      responses: { 200: z.record(z.string(), z.unknown()) },
      handler: async () => ({ body: deps.openApiDocument() }),
    }),
    defineRoute({
      method: 'get',
      path: '/metrics',
      summary: 'Prometheus metrics (bearer METRICS_TOKEN; 404 when no token is configured)',
      tags: ['service'],
      auth: 'none',
      responses: { 200: null },
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
