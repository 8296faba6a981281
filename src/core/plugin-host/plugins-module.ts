import type { Knex } from 'knex';
import type { Registry } from 'prom-client';
import type { Config } from '../../config/schema.ts';
import type { Logger } from '../log/logger.ts';
import type { CoreModule } from '../boot/core-module.ts';
import type { MountedRoute } from '../http/route.ts';
import type { RateLimiter } from '../http/rate-limiter.ts';
import type { LimitsModule } from '../cluster/limits-module.ts';
import type { AuthModule } from '../auth/auth-module.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { Entitlements } from '../billing/entitlements.ts';
import { ReverseProxy } from '../proxy/reverse-proxy.ts';
import type { Instances } from '../../plugin-api/instances.ts';
import type { Agents } from '../../plugin-api/agents.ts';
import type { Files } from '../../plugin-api/files.ts';
import type { Proxies } from '../../plugin-api/proxies.ts';
import type { ReplicaRelay } from '../cluster/replica-relay.ts';
import { setupPlugins, type LoadedPlugins, type PreparedPlugin } from './plugin-host.ts';

export interface PluginsModule extends CoreModule {
  loaded: LoadedPlugins;
}

/** What the core offers every plugin; each gets its own view of it (its id, config and logger). */
export interface PluginServices {
  config: Readonly<Config>;
  log: Logger;
  db: Knex;
  registry: Registry;
  rateLimiter: RateLimiter;
  limits: Pick<LimitsModule, 'forPlugin'>;
  allowedOrigins: ReadonlySet<string>;
  instances: Instances;
  entitlements: Entitlements;
  agents: Agents;
  bus: EventBus;
  audit: AuditLog;
  files: Files;
  auth: AuthModule;
  relay: ReplicaRelay;
}

/** Runs each enabled plugin's setup with its capabilities; disposes them (and the proxies they made) at stop. */
export async function createPluginsModule(prepared: readonly PreparedPlugin[], services: PluginServices, coreRoutes: readonly MountedRoute[]): Promise<PluginsModule> {
  const { config, auth } = services;
  const proxies: ReverseProxy[] = [];
  const proxyFactory: Proxies = {
    create: (settings) => {
      const proxy = new ReverseProxy(settings);
      proxies.push(proxy);
      return proxy;
    },
  };
  const closeProxies = (): void => {
    for (const proxy of proxies) proxy.close();
  };
  const loaded = await setupPlugins(
    prepared,
    (p) => ({
      id: p.plugin.id,
      config: p.config,
      core: { publicUrl: config.server.public_url, dataDir: config.database.data_dir, allowedOrigins: services.allowedOrigins, proxyHops: config.server.proxy_hops, ide: config.ide },
      db: services.db,
      log: services.log.child({ plugin: p.plugin.id }),
      metrics: services.registry,
      rateLimiter: services.rateLimiter,
      limits: services.limits.forPlugin(p.plugin.id),
      instances: services.instances,
      entitlements: services.entitlements,
      agents: services.agents,
      events: {
        publish: (definition, userId, data, trx) => services.bus.publish(definition, userId, data, trx),
        on: (definitions, handler, options) => services.bus.on(definitions, handler, options),
      },
      audit: { record: (entry) => services.audit.record(entry) },
      files: services.files,
      proxies: proxyFactory,
      cluster: {
        replicaId: services.relay.replicaId,
        isLive: (replicaId) => services.relay.isLive(replicaId),
        onRelay: (channel, handler) => services.relay.handle(`${p.plugin.id}.${channel}`, handler),
        relay: (replicaId, channel, data) => services.relay.open(replicaId, `${p.plugin.id}.${channel}`, data),
      },
      auth: { verifyAccessToken: auth.verifyAccessToken, redeemTicket: auth.redeemTicket, tickets: auth.tickets, stillValid: auth.stillValid, audience: auth.audience, accounts: auth.accounts },
    }),
    coreRoutes,
    services.log,
  ).catch((err: unknown) => {
    closeProxies();
    throw err;
  });
  return {
    name: 'plugins',
    loaded,
    routes: [],
    jobs: loaded.jobs,
    stop: async () => {
      await loaded.dispose(services.log);
      closeProxies();
    },
  };
}
