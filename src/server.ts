import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import type Koa from 'koa';
import { Registry, collectDefaultMetrics, Counter, Histogram } from 'prom-client';
import type { Config } from './config/schema.ts';
import type { Logger } from './core/log/logger.ts';
import { createApp } from './app.ts';
import { openDatabase, type Database } from './core/db/database.ts';
import { countPending, migrateUp, type MigrationSet } from './core/db/migrator.ts';
import { loadSecrets, type AppSecrets } from './core/db/secrets.ts';
import { allowedOriginSet } from './core/http/origins.ts';
import { RateLimiter } from './core/http/rate-limiter.ts';
import { ServiceUnavailableError } from './core/http/errors.ts';
import { buildOpenApiDocument } from './core/http/openapi.ts';
import { serviceRoutes } from './core/http/service-routes.ts';
import type { MountedRoute } from './core/http/route.ts';
import { createAuthModule, type AuthModule } from './core/auth/auth-module.ts';
import { createAgentCore, type AgentCore } from './core/instances/agent-core.ts';
import { EventBus } from './core/events/event-bus.ts';
import { createBillingModule } from './core/billing/billing-module.ts';
import { fileRoutes } from './core/files/file-routes.ts';
import { SignedUrls } from './core/files/signed-urls.ts';
import { signedFileRoutes } from './core/files/signed-file-routes.ts';
import type { Provisioner } from './core/instances/provisioner.ts';
import { SecretBox } from './core/crypto/secret-box.ts';
import { bootstrapProblems } from './core/auth/bootstrap-admin.ts';
import { ConfigError } from './config/load.ts';
import { Scheduler } from './core/jobs/scheduler.ts';
import { coreJobs } from './core/jobs/core-jobs.ts';
import { UpgradeDispatcher } from './core/ws/upgrade-dispatcher.ts';
import type { PanelPlugin } from './core/plugin-host/plugin.ts';
import { pluginMigrationSets, preparePlugins, setupPlugins, type PreparedPlugin } from './core/plugin-host/plugin-host.ts';

export const coreMigrationsDir = fileURLToPath(new URL('../migrations', import.meta.url));

export interface StartServerOptions {
  config: Readonly<Config>;
  log: Logger;
  availablePlugins: readonly PanelPlugin[];
  /** Tests pass a database cloned from a template; otherwise one is opened from config. */
  database?: Database;
  /** Where the one-time first-admin password is printed; stderr by default. */
  console?: (text: string) => void;
  /** Provisioners beyond the built-in ones (tests add their own). */
  provisioners?: Provisioner[];
}

export interface RunningServer {
  url: string;
  port: number;
  database: Database;
  secrets: AppSecrets;
  auth: AuthModule;
  agentCore: AgentCore;
  scheduler: Scheduler;
  app: Koa;
  http: Server;
  /** Drains and stops everything; safe to call twice. */
  shutdown(reason: string): Promise<void>;
}

function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.then(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The composition root behind `npm start` and `startTestApp()`: config → db → core → plugins → listen. */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const problems = bootstrapProblems(options.config.bootstrap);
  if (problems.length > 0) throw new ConfigError(problems);
  const prepared = preparePlugins(options.availablePlugins, options.config.plugins.enabled, options.config.plugins.config);
  const database = options.database ?? (await openDatabase(options.config.database));
  const ownsDatabase = options.database === undefined;
  try {
    return await boot(options, prepared, database, ownsDatabase);
  } catch (err) {
    // A failed boot must not leave a connection pool (or PGlite) keeping the process alive.
    if (ownsDatabase) await database.close().catch(() => undefined);
    throw err;
  }
}

async function boot(options: StartServerOptions, prepared: PreparedPlugin[], database: Database, ownsDatabase: boolean): Promise<RunningServer> {
  const { config, log } = options;
  const { knex } = database;
  log.info({ engine: database.engine }, 'database connected');

  const migrationSets: MigrationSet[] = [{ owner: 'core', dir: coreMigrationsDir }, ...pluginMigrationSets(prepared)];
  await migrateUp(knex, migrationSets, (m) => log.info(m, 'migration applied'));
  const secrets = await loadSecrets(knex, config.secrets, (name) => log.info({ secret: name }, 'generated and stored a new secret'));

  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = {
    requests: new Counter({ name: 'panel_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'] as const, registers: [registry] }),
    duration: new Histogram({ name: 'panel_http_request_duration_seconds', help: 'HTTP request latency', labelNames: ['method', 'route', 'status'] as const, registers: [registry], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] }),
  };
  const rateLimiter = new RateLimiter(knex, config.rate_limits);
  const allowedOrigins = allowedOriginSet(config.server.public_url, config.server.allowed_origins);
  const replicaId = randomUUID();
  const scheduler = new Scheduler({ knex, log: log.child({ component: 'scheduler' }), registry, replicaId });
  // Built before auth and the agent core: both publish (sessions ended, instance state).
  const bus = new EventBus(knex, database.url, log.child({ component: 'events' }));
  const auth = createAuthModule(knex, config, secrets, log, bus);
  await auth.bootstrap(options.console ?? ((text) => process.stderr.write(text)));
  const agentCore = createAgentCore({ db: knex, bus, config, box: new SecretBox(secrets.encryptionKey), tickets: auth.tickets, stillValid: auth.stillValid, log, registry, replicaId, provisioners: options.provisioners });
  const billing = createBillingModule(knex, config, bus, auth.outbox, agentCore.instances, agentCore.client, log);
  const signedUrls = new SignedUrls(knex, secrets.urlSigningKey, 300);
  scheduler.add({ id: 'core.signed-urls-prune', every_ms: 3_600_000, timeout_ms: 60_000, once_across_replicas: true, quiet: true, run: async () => void (await signedUrls.prune()) });
  for (const job of [...coreJobs(knex, rateLimiter), ...auth.jobs, ...agentCore.jobs, ...billing.jobs]) scheduler.add(job);

  let draining = false;
  let routes: MountedRoute[] = [];
  let openApi: Record<string, unknown> | null = null;
  const coreRoutes: MountedRoute[] = serviceRoutes({
    isDraining: () => draining,
    checkReady: async () => {
      const pending = await countPending(knex, migrationSets);
      if (pending > 0) throw new ServiceUnavailableError('MIGRATIONS_PENDING', `${pending} database migrations are not applied; run scripts/migrate up`);
    },
    openApiDocument: () => {
      openApi ??= buildOpenApiDocument(routes, {
        title: 'Hosting panel API',
        version: '1',
        description: 'Game servers, dev containers and streamed desktops. Errors use the Error envelope; lists paginate with ?page&limit (limit clamped to 100).',
        serverUrl: config.server.public_url,
        tags: plugins.openApiTags,
      });
      return openApi;
    },
    metricsRegistry: registry,
    metricsToken: config.metrics.token,
  })
    .concat(auth.routes, agentCore.routes, billing.routes, signedFileRoutes(knex, signedUrls, agentCore.instances, agentCore.streams, auth.audit))
    .map((route) => ({ owner: 'core', fullPath: route.path, route }));

  const plugins = await setupPlugins(
    prepared,
    (p) => ({
      id: p.plugin.id,
      config: p.config,
      core: { publicUrl: config.server.public_url, dataDir: config.database.data_dir, allowedOrigins, proxyHops: config.server.proxy_hops, ide: config.ide },
      db: knex,
      log: log.child({ plugin: p.plugin.id }),
      metrics: registry,
      rateLimiter,
      instances: agentCore.instances,
      entitlements: billing.entitlements,
      agents: agentCore.client,
      events: agentCore.bus,
      audit: { record: (entry) => auth.audit.record(entry) },
      files: {
        routes: (fileOptions) => fileRoutes({ signed: signedUrls, publicUrl: config.server.public_url, instances: agentCore.instances, agents: agentCore.client, streams: agentCore.streams, audit: auth.audit, maxUploadBytes: config.files.max_upload_bytes }, fileOptions),
        streams: agentCore.streams,
        signedDownloadUrl: (grant) => {
          const issued = signedUrls.issue({ ...grant, direction: 'download' });
          return { url: `${config.server.public_url.replace(/\/$/, '')}/api/files/signed?token=${encodeURIComponent(issued.token)}`, expiresAt: issued.expiresAt };
        },
      },
      auth: { verifyAccessToken: auth.verifyAccessToken, redeemTicket: auth.redeemTicket, tickets: auth.tickets, stillValid: auth.stillValid, audience: auth.audience, accounts: auth.accounts },
    }),
    coreRoutes,
    log,
  );
  try {
    for (const job of plugins.jobs) scheduler.add(job);
    routes = [...coreRoutes, ...plugins.routes];
    const unknownLimits = routes.flatMap(({ fullPath, route }) =>
      (route.rateLimits ?? []).filter((use) => !rateLimiter.has(use.name)).map((use) => `rate_limits.${use.name}: missing, and ${route.method.toUpperCase()} ${fullPath} uses it`),
    );
    if (unknownLimits.length > 0) throw new ConfigError(unknownLimits);
  } catch (err) {
    await plugins.dispose(log);
    throw err;
  }

  const app = createApp({
    log,
    metrics,
    routes,
    rawHandlers: plugins.rawHttp,
    proxyHops: config.server.proxy_hops,
    allowedOrigins,
    bodyLimitBytes: config.server.body_limit_bytes,
    validateResponses: config.server.validate_responses,
    authenticate: auth.authenticate,
    redeemTicket: auth.redeemTicket,
    rateLimiter,
    isDraining: () => draining,
  });
  const dispatcher = new UpgradeDispatcher({ log, allowedOrigins, routes: plugins.websockets, proxyHops: config.server.proxy_hops });
  const http = createServer(app.callback());
  http.on('upgrade', (req, socket, head) => dispatcher.handle(req, socket, head));
  try {
    await agentCore.start();
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(config.server.port, config.server.host, () => {
        http.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    // Port taken, say: undo what the agent core, plugins and mailer opened before giving up.
    await agentCore.stop();
    await plugins.dispose(log);
    await auth.close();
    throw err;
  }
  const port = (http.address() as AddressInfo).port;
  const shownHost = config.server.host === '0.0.0.0' || config.server.host === '::' ? '127.0.0.1' : config.server.host;
  const url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`;
  scheduler.start();
  log.info({ url, port, plugins: prepared.map((p) => p.plugin.id) }, 'listening');

  let stopped: Promise<void> | null = null;
  const shutdown = (reason: string): Promise<void> => {
    stopped ??= (async () => {
      const grace = config.server.shutdown_grace_ms;
      log.info({ reason, grace_ms: grace }, 'shutting down');
      draining = true;
      agentCore.closeStreams();
      const closed = new Promise<void>((resolve) => http.close(() => resolve()));
      await dispatcher.closeAll(Math.min(grace, 1000));
      // Keep-alive connections that go idle during the drain (an ended event stream, say) are closed as they do.
      const idleSweep = setInterval(() => http.closeIdleConnections(), 100);
      // Jobs and in-flight requests drain together, under one deadline.
      await Promise.all([scheduler.stop(grace), withTimeout(closed, grace)]);
      clearInterval(idleSweep);
      http.closeAllConnections();
      await withTimeout(agentCore.stop(), grace);
      await plugins.dispose(log);
      await withTimeout(auth.close(), grace);
      if (ownsDatabase) await database.close();
      log.info('stopped');
    })();
    return stopped;
  };

  return { url, port, database, secrets, auth, agentCore, scheduler, app, http, shutdown };
}
