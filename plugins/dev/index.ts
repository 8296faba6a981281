import { fileURLToPath } from 'node:url';
import { Gauge } from 'prom-client';
import { definePlugin, type PanelPlugin } from '../../src/plugin-api/index.ts';
import { devConfigSchema, type DevConfig } from './config.ts';
import { IdeUrls } from './ide-urls.ts';
import { IdeSessions } from './ide-sessions.ts';
import { ideEntrances } from './ide-gateway.ts';
import { takeSiteDataClear } from './vmids.ts';
import { ideSockets } from './ide-sockets.ts';
import { containerRoutes } from './container-routes.ts';
import { ideRoutes } from './ide-routes.ts';
import { devEvents, ideStopped } from './events.ts';
import { devInvariants } from './vmid-invariants.ts';
import { endIdeSessions } from './subscribers/end-ide-sessions.ts';
import { recheckIdeSocketsJob } from './jobs/recheck-ide-sockets.ts';
import { pruneIdeSessionsJob } from './jobs/prune-ide-sessions.ts';

const base = '/api/dev';

/** Dev containers with a browser IDE: containers, code-server controls, IDE links, and the IDE proxy (hosted and path mode). */
export const devPlugin: PanelPlugin<DevConfig> = definePlugin({
  id: 'dev',
  configSchema: devConfigSchema,
  migrationsDir: fileURLToPath(new URL('./migrations', import.meta.url)),
  // `/__ide` for path mode: the IDE must see its own paths, so it cannot live under /api/dev.
  prefixes: [base, '/__ide'],
  events: devEvents,
  invariants: devInvariants,
  setup: (ctx) => {
    const urls = new IdeUrls(ctx.core.ide, ctx.core.publicUrl);
    const local = /(^|\.)localhost$/.test(ctx.core.ide.suffix);
    if (urls.scheme === 'http' && !local) {
      ctx.log.warn({ suffix: ctx.core.ide.suffix }, 'IDE over http on a host that is not localhost: the IDE session cookie cannot be Secure and travels in clear; use https outside local development');
    }
    const sessions = new IdeSessions(
      ctx.db,
      ctx.instances,
      ctx.auth.stillValid,
      { tokenTtlS: ctx.config.token_ttl_s, sessionTtlS: ctx.config.session_ttl_s, cacheMs: 10_000 },
      ctx.log.child({ component: 'ide-sessions' }),
    );
    const proxy = ctx.proxies.create({ idleTimeoutMs: ctx.config.proxy_idle_timeout_ms, maxSockets: 256, log: ctx.log.child({ component: 'ide-proxy' }) });
    new Gauge({
      name: 'panel_dev_ide_sockets',
      help: 'Proxied IDE WebSockets open on this replica',
      registers: [ctx.metrics],
      collect() {
        this.set(sessions.openSockets);
      },
    });
    const unsubscribe = endIdeSessions(ctx.events, sessions);
    /** The IDE stops or the container goes: its sessions end here at once, and on other replicas by event. */
    const endSessions = async (id: string): Promise<void> => {
      await sessions.revoke({ instanceId: id }, true);
      await ctx.events.publish(ideStopped, null, { instance_id: id });
    };
    return {
      routes: [
        ...containerRoutes(base, ctx.db, ctx.config, ctx.instances, ctx.entitlements, endSessions),
        ...ctx.files.routes({ base: `${base}/:id`, plugin: 'dev', noun: 'dev container', tag: 'dev' }),
        ...ideRoutes(base, ctx.instances, ctx.agents, ctx.entitlements, sessions, urls, ctx.db, endSessions),
      ],
      frontHttp: ideEntrances({ sessions, urls, proxy, portalUrl: ctx.core.publicUrl, takeSiteDataClear: (id) => takeSiteDataClear(ctx.db, id), log: ctx.log.child({ component: 'ide-gateway' }) }),
      websockets: ideSockets(sessions, urls, proxy, ctx.limits, ctx.config.max_sockets_per_user),
      jobs: [recheckIdeSocketsJob(sessions, ctx.config.socket_recheck_ms), pruneIdeSessionsJob(sessions)],
      dispose: async () => {
        unsubscribe();
        proxy.close();
      },
    };
  },
});
