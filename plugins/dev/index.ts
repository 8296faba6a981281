import { fileURLToPath } from 'node:url';
import { Gauge } from 'prom-client';
import { definePlugin, ReverseProxy, type PanelEvent, type PanelPlugin } from '../../src/plugin-api/index.ts';
import { devConfigSchema, type DevConfig } from './config.ts';
import { IdeUrls } from './ide-urls.ts';
import { IdeSessions } from './ide-sessions.ts';
import { ideEntrances } from './ide-gateway.ts';
import { ideSockets } from './ide-sockets.ts';
import { containerRoutes } from './container-routes.ts';
import { ideRoutes } from './ide-routes.ts';

const base = '/api/dev';

/** Ends IDE sessions wherever their sockets are, when an event says their sign-in or container is gone. */
function revokeOnEvents(sessions: IdeSessions): (event: PanelEvent) => void {
  return (event) => {
    const data = event.data as { plugin?: string; instance_id?: string; user_id?: string; family_ids?: string[] | null; state?: { lifecycle?: string } };
    let work: Promise<void> | null = null;
    if (event.type === 'user.sessions_ended' && data.user_id) work = sessions.revoke(data.family_ids ? { familyIds: data.family_ids } : { userId: data.user_id }, false);
    else if (event.type === 'dev.ide_stopped' && data.instance_id) work = sessions.revoke({ instanceId: data.instance_id }, false);
    else if (data.plugin === 'dev' && data.instance_id && (event.type === 'instance.deleted' || (data.state?.lifecycle !== undefined && data.state.lifecycle !== 'active'))) {
      work = sessions.revoke({ instanceId: data.instance_id }, false);
    }
    void work?.catch(() => undefined);
  };
}

/** Dev containers with a browser IDE: containers, code-server controls, IDE links, and the IDE proxy (hosted and path mode). */
export const devPlugin: PanelPlugin<DevConfig> = definePlugin({
  id: 'dev',
  configSchema: devConfigSchema,
  migrationsDir: fileURLToPath(new URL('./migrations', import.meta.url)),
  // `/__ide` for path mode: the IDE must see its own paths, so it cannot live under /api/dev.
  prefixes: [base, '/__ide'],
  setup: (ctx) => {
    const urls = new IdeUrls(ctx.core.ide, ctx.core.publicUrl);
    const sessions = new IdeSessions(ctx.db, ctx.instances, ctx.auth.stillValid, { tokenTtlS: ctx.config.token_ttl_s, sessionTtlS: ctx.config.session_ttl_s, cacheMs: 1_000 }, ctx.log.child({ component: 'ide-sessions' }));
    const proxy = new ReverseProxy({ idleTimeoutMs: ctx.config.proxy_idle_timeout_ms, maxSockets: 256, log: ctx.log.child({ component: 'ide-proxy' }) });
    new Gauge({ name: 'panel_dev_ide_sockets', help: 'Proxied IDE WebSockets open on this replica', registers: [ctx.metrics], collect() { this.set(sessions.openSockets); } });
    const unsubscribe = ctx.events.subscribe(revokeOnEvents(sessions));
    /** The IDE stops or the container goes: its sessions end here at once, and on other replicas by event. */
    const endSessions = async (id: string): Promise<void> => {
      await sessions.revoke({ instanceId: id }, true);
      await ctx.events.publish('dev.ide_stopped', null, { instance_id: id });
    };
    return {
      routes: [
        ...containerRoutes(base, ctx.db, ctx.config, ctx.instances, ctx.entitlements, endSessions),
        ...ctx.files.routes({ base: `${base}/:id`, plugin: 'dev', noun: 'dev container', tag: 'dev' }),
        ...ideRoutes(base, ctx.instances, ctx.agents, ctx.entitlements, sessions, urls, ctx.db, endSessions),
      ],
      rawHttp: ideEntrances({ sessions, urls, proxy, portalUrl: ctx.core.publicUrl, log: ctx.log.child({ component: 'ide-gateway' }) }),
      websockets: ideSockets(sessions, urls, proxy),
      jobs: [
        { id: 'dev.ide-sockets', every_ms: ctx.config.socket_recheck_ms, timeout_ms: 30_000, once_across_replicas: false, quiet: true, run: async () => void (await sessions.recheckSockets()) },
        { id: 'dev.ide-prune', every_ms: 3_600_000, timeout_ms: 60_000, once_across_replicas: true, run: () => sessions.prune() },
      ],
      dispose: async () => {
        unsubscribe();
        proxy.close();
      },
    };
  },
});
