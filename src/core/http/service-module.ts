import type { Config } from '../../config/schema.ts';
import type { Registry } from 'prom-client';
import type { CoreModule } from '../boot/core-module.ts';
import type { EventCatalogue } from '../events/event-catalogue.ts';
import type { MountedRoute } from './route.ts';
import type { MountedRawHandler } from './raw-handler.ts';
import { docsAssets } from './docs-page/docs-assets.ts';
import { docsPageRoute } from './docs-page/docs-page.ts';
import type { MountedWebSocketRoute } from '../ws/websocket-route.ts';
import { ServiceUnavailableError } from './errors.ts';
import { buildOpenApiDocument } from './openapi.ts';
import { serviceRoutes } from './service-routes.ts';

export interface ServiceModule extends CoreModule {
  /** True from the first moment of shutdown: /readyz answers 503 and new requests are refused. */
  isDraining: () => boolean;
  /** The service routes, placed (before the plugins, so a plugin cannot take their paths). */
  mounted: MountedRoute[];
  /** The files of the reference page (`/docs/assets/`), served ahead of the routes. */
  rawHttp: MountedRawHandler[];
}

export interface ServiceModuleOptions {
  config: Readonly<Config>;
  registry: Registry;
  catalogue: EventCatalogue;
  pendingMigrations: () => Promise<number>;
  /** Everything the server mounts, for the OpenAPI document (read on the first request for it). */
  routes(): readonly MountedRoute[];
  /** The WebSocket endpoints, for the same document. */
  websockets(): readonly MountedWebSocketRoute[];
  openApiTags(): ReadonlyArray<{ name: string; description: string }>;
}

/** Health, readiness, the OpenAPI document (and its reference page) and metrics: what operators and clients ask the server about itself. */
export function createServiceModule(options: ServiceModuleOptions): ServiceModule {
  const { config } = options;
  let draining = false;
  let openApi: Record<string, unknown> | null = null;
  const docs = docsAssets();
  const routes = serviceRoutes({
    isDraining: () => draining,
    checkReady: async () => {
      const pending = await options.pendingMigrations();
      if (pending > 0) throw new ServiceUnavailableError('MIGRATIONS_PENDING', `${pending} database migrations are not applied; run scripts/migrate up`);
    },
    openApiDocument: () => {
      openApi ??= buildOpenApiDocument(options.routes(), {
        title: 'Hosting panel API',
        version: '1',
        description: 'Game servers, dev containers and streamed desktops. Errors use the Error envelope; lists paginate with ?page&limit (limit clamped to 100).',
        serverUrl: config.server.public_url,
        websockets: options.websockets(),
        tags: [...options.openApiTags()],
        events: options.catalogue.list().map(({ owner, definition }) => ({ id: definition.id, owner, audience: definition.audience, description: definition.description })),
      });
      return openApi;
    },
    metricsRegistry: options.registry,
    metricsToken: config.metrics.token,
  });
  return {
    name: 'service',
    isDraining: () => draining,
    mounted: [...routes, docsPageRoute(docs.base)].map((route) => ({ owner: 'core', fullPath: route.path, route })),
    rawHttp: [{ owner: 'core', handler: docs.handler }],
    drain: async () => {
      draining = true;
    },
  };
}
