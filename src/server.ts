import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type Koa from 'koa';
import type { Config } from './config/schema.ts';
import type { Logger } from './core/log/logger.ts';
import type { Database } from './core/db/database.ts';
import type { AppSecrets } from './core/db/secrets.ts';
import { ConfigError } from './config/load.ts';
import { ModuleStack } from './core/boot/module-stack.ts';
import { checkDataDir } from './core/boot/data-dir.ts';
import { createDatabaseModule } from './core/db/database-module.ts';
import { reservePort } from './core/http/port-reservation.ts';
import { createMetricsModule } from './core/http/metrics-module.ts';
import { createRateLimitsModule } from './core/http/rate-limits-module.ts';
import { createSchedulerModule } from './core/jobs/scheduler-module.ts';
import type { Scheduler } from './core/jobs/scheduler.ts';
import { EventCatalogue } from './core/events/event-catalogue.ts';
import { coreEvents } from './core/events/core-events.ts';
import { createEventsModule } from './core/events/events-module.ts';
import type { EventBus } from './core/events/event-bus.ts';
import { createEventStreamModule } from './core/events/event-stream-module.ts';
import { createAuditModule } from './core/audit/audit-module.ts';
import { createMailModule } from './core/mail/mail-module.ts';
import { createAuthModule, type AuthModule } from './core/auth/auth-module.ts';
import { bootstrapProblems } from './core/auth/bootstrap-admin.ts';
import { createAgentsModule } from './core/agent/agents-module.ts';
import { createClusterModule } from './core/cluster/cluster-module.ts';
import { createLimitsModule } from './core/cluster/limits-module.ts';
import type { ReplicaRegistry } from './core/cluster/replica-registry.ts';
import type { ReplicaRelay } from './core/cluster/replica-relay.ts';
import { createInstancesModule } from './core/instances/instances-module.ts';
import type { InstanceService } from './core/instances/instance-service.ts';
import type { Poller } from './core/instances/poller.ts';
import type { Provisioner } from './core/instances/provisioner.ts';
import { createBillingModule } from './core/billing/billing-module.ts';
import { createFilesModule } from './core/files/files-module.ts';
import { createPluginsModule } from './core/plugin-host/plugins-module.ts';
import { checkRateLimitUses } from './core/http/rate-limit-uses.ts';
import { createHttpModule } from './core/http/http-module.ts';
import type { MountedWebSocketRoute } from './core/ws/websocket-route.ts';
import { createServiceModule } from './core/http/service-module.ts';
import type { MountedRoute } from './core/http/route.ts';
import { allowedOriginSet } from './core/http/origins.ts';
import { SecretBox } from './core/crypto/secret-box.ts';
import type { PanelPlugin } from './core/plugin-host/plugin.ts';
import { pluginMigrationSets, preparePlugins, registerPluginEvents } from './core/plugin-host/plugin-host.ts';

export { coreMigrationsDir } from './core/db/database-module.ts';

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
  events: EventBus;
  catalogue: EventCatalogue;
  instances: InstanceService;
  poller: Poller;
  scheduler: Scheduler;
  /** This replica in the replica registry (who else is live, where they are reached). */
  replicas: ReplicaRegistry;
  /** Internal WebSockets to the other replicas (plugins reach it as `ctx.cluster`). */
  relay: ReplicaRelay;
  app: Koa;
  http: Server;
  /** Every WebSocket route the upgrade dispatcher serves (the core's and the plugins'). */
  websockets: readonly MountedWebSocketRoute[];
  /** Drains and stops everything; safe to call twice. */
  shutdown(reason: string): Promise<void>;
}

/**
 * The composition root behind `npm start` and `startTestApp()`: the core's modules in
 * dependency order, then the plugins, then the HTTP server and the scheduler. Modules start
 * in this order and stop in reverse (see core/boot/module-stack.ts).
 */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const { config, log } = options;
  const problems = bootstrapProblems(config.bootstrap);
  if (problems.length > 0) throw new ConfigError(problems);
  const prepared = preparePlugins(options.availablePlugins, config.plugins.enabled, config.plugins.config);
  const catalogue = new EventCatalogue();
  catalogue.register('core', coreEvents, { prefixed: false });
  registerPluginEvents(catalogue, prepared);

  const stack = new ModuleStack(log);
  const grace = config.server.shutdown_grace_ms;
  try {
    // What the environment must provide, checked before anything is migrated or created: the
    // port is bound (and held, for the HTTP module), DATA_DIR is written, the database answers.
    const reservation = stack.add(await reservePort(config.server.host, config.server.port));
    checkDataDir(config.database.data_dir);
    const { database, secrets, pendingMigrations, databaseUp } = stack.add(await createDatabaseModule({ config, log, database: options.database, pluginMigrations: pluginMigrationSets(prepared) }));
    const db = database.knex;
    const box = new SecretBox(secrets.encryptionKey);
    const replicaId = randomUUID();
    const metrics = stack.add(createMetricsModule());
    const { rateLimiter } = stack.add(createRateLimitsModule(db, config));
    const { bus } = stack.add(createEventsModule({ db, listenUrl: database.url, catalogue, config, log }));
    const { audit } = stack.add(createAuditModule(db));
    const { outbox } = stack.add(createMailModule({ db, box, config, log }));
    const auth = stack.add(createAuthModule({ db, config, secrets, log, bus, audit, outbox, write: options.console ?? ((text) => process.stderr.write(text)) }));
    stack.add(createEventStreamModule({ bus, catalogue, tickets: auth.tickets, stillValid: auth.stillValid, config }));
    const agents = stack.add(createAgentsModule(config, replicaId));
    // The registry starts before the poller (its share needs this replica's row) and learns the
    // listening address once the HTTP server is up, unless cluster.internal_url says it.
    let listeningUrl: () => string | null = () => null;
    const cluster = stack.add(createClusterModule({ db, log, replicaId, internalUrl: () => config.cluster.internal_url ?? listeningUrl(), lockUrl: database.url, secret: secrets.clusterSecret }));
    const limits = stack.add(createLimitsModule({ db, log, replicas: cluster.replicas, databaseUp }));
    const { instances, poller } = stack.add(createInstancesModule({ db, config, box, client: agents.client, bus, log, registry: metrics.registry, replicaId, provisioners: options.provisioners }));
    const billing = stack.add(createBillingModule({ db, config, bus, outbox, instances, agents: agents.client, log }));
    const { files } = stack.add(createFilesModule({ db, config, urlSigningKey: secrets.urlSigningKey, instances, agents: agents.client, streams: agents.streams, audit }));
    let routes: MountedRoute[] = [];
    let openApiTags: ReadonlyArray<{ name: string; description: string }> = [];
    let sockets: MountedWebSocketRoute[] = [];
    const service = stack.add(
      createServiceModule({ config, registry: metrics.registry, catalogue, pendingMigrations, routes: () => routes, websockets: () => sockets, openApiTags: () => openApiTags }),
    );
    const coreRoutes = [...service.mounted, ...stack.routes.map((route) => ({ owner: 'core', fullPath: route.path, route }))];
    const allowedOrigins = allowedOriginSet(config.server.public_url, config.server.allowed_origins);
    const services = {
      config,
      log,
      db,
      registry: metrics.registry,
      rateLimiter,
      limits,
      allowedOrigins,
      instances,
      entitlements: billing.entitlements,
      agents: agents.client,
      bus,
      audit,
      files,
      auth,
      relay: cluster.relay,
    };
    const plugins = stack.add(await createPluginsModule(prepared, services, coreRoutes));
    routes = [...coreRoutes, ...plugins.loaded.routes];
    openApiTags = plugins.loaded.openApiTags;
    const unknownLimits = checkRateLimitUses(routes, rateLimiter);
    if (unknownLimits.length > 0) throw new ConfigError(unknownLimits);
    const { rawHttp, frontHttp, websockets } = plugins.loaded;
    const upgradeRate = { burst: config.server.upgrade_rate_burst, refillMs: config.server.upgrade_rate_refill_ms };
    const mountedSockets = [...cluster.websockets, ...websockets];
    sockets = mountedSockets;
    const http = stack.add(
      createHttpModule({
        config,
        log,
        replicaId,
        metrics,
        routes,
        rawHttp: [...service.rawHttp, ...rawHttp],
        frontHttp,
        websockets: mountedSockets,
        allowedOrigins,
        authenticate: auth.authenticate,
        redeemTicket: auth.redeemTicket,
        rateLimiter,
        isDraining: service.isDraining,
        admitUpgrade: (ip) => limits.buckets.take(`core:upgrade-ip:${ip}`, upgradeRate),
        databaseUp,
        reservedSocket: reservation.take,
      }),
    );
    listeningUrl = () => {
      try {
        return http.address().url;
      } catch {
        return null;
      }
    };
    const { scheduler, schedule } = stack.add(createSchedulerModule({ db, log, registry: metrics.registry, replicaId, databaseUp }));
    schedule(stack.jobs);

    await stack.start();
    // The registry's first heartbeat came before the server listened: record the address now,
    // so the other replicas can relay to this one as soon as it says it is listening.
    await cluster.replicas.heartbeat();
    const { url, port } = http.address();
    log.info({ url, port, plugins: prepared.map((p) => p.plugin.id) }, 'listening');
    let stopped: Promise<void> | null = null;
    const shutdown = (reason: string): Promise<void> =>
      (stopped ??= (async () => {
        log.info({ reason, grace_ms: grace }, 'shutting down');
        await stack.shutdown(grace);
        log.info('stopped');
      })());
    return {
      url,
      port,
      database,
      secrets,
      auth,
      events: bus,
      catalogue,
      instances,
      poller,
      scheduler,
      replicas: cluster.replicas,
      relay: cluster.relay,
      app: http.app,
      http: http.server,
      websockets: mountedSockets,
      shutdown,
    };
  } catch (err) {
    // A plugin that failed, a database that does not answer: undo whatever was opened before giving up.
    await stack.shutdown(grace);
    throw err;
  }
}
