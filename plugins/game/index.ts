import { fileURLToPath } from 'node:url';
import { Gauge } from 'prom-client';
import { definePlugin, type PanelPlugin, type PanelEvent } from '../../src/plugin-api/index.ts';
import { gameConfigSchema, type GameConfig } from './config.ts';
import { serverRoutes } from './server-routes.ts';
import { powerRoutes } from './power-routes.ts';
import { consoleRoutes } from './console-routes.ts';
import { closeCodes, ConsoleSockets } from './console-sockets.ts';
import { BackupStore } from './backup-store.ts';
import { Restores } from './restores.ts';
import { BackupSync } from './backup-sync.ts';
import { backupRoutes } from './backup-routes.ts';
import { backupArchiveRoutes } from './backup-archive-routes.ts';

/** Closes console sockets when their server goes away or their user's sessions end, on whichever replica holds them. */
function closeOnEvents(sockets: ConsoleSockets): (event: PanelEvent) => void {
  return (event) => {
    const data = event.data as { plugin?: string; instance_id?: string; user_id?: string; family_ids?: string[] | null; state?: { lifecycle?: string } };
    // Console tickets belong to the user, not to one sign-in: only "every session ended" (disable, password reset) closes them.
    if (event.type === 'user.sessions_ended' && data.user_id && !data.family_ids) sockets.closeUser(data.user_id, closeCodes.accessRevoked, 'your sessions ended; sign in again');
    if (data.plugin !== 'game' || !data.instance_id) return;
    if (event.type === 'instance.deleted' || data.state?.lifecycle === 'deleting') sockets.closeServer(data.instance_id, closeCodes.serverGone, 'server deleted');
    else if (data.state?.lifecycle === 'suspended') sockets.closeServer(data.instance_id, closeCodes.notActive, 'server suspended');
  };
}

/** Game servers: power, console (HTTP and a proxied WebSocket) and backups, on the agent-polling core. */
export const gamePlugin: PanelPlugin<GameConfig> = definePlugin({
  id: 'game',
  configSchema: gameConfigSchema,
  migrationsDir: fileURLToPath(new URL('./migrations', import.meta.url)),
  setup: (ctx) => {
    const sockets = new ConsoleSockets({ burst: ctx.config.console.burst, refillMs: ctx.config.console.refill_ms, maxBufferedBytes: ctx.config.console.max_buffered_bytes, pingMs: ctx.config.console.ping_ms });
    new Gauge({ name: 'panel_game_console_sockets', help: 'Open console WebSockets on this replica', registers: [ctx.metrics], collect() { this.set(sockets.size); } });
    const unsubscribe = ctx.events.subscribe(closeOnEvents(sockets));
    const store = new BackupStore(ctx.db, ctx.events);
    const restores = new Restores(ctx.db, ctx.instances, ctx.agents, ctx.events, { timeoutMs: ctx.config.backups.restore_timeout_ms, acceptWindowMs: 60_000 }, ctx.log.child({ component: 'restores' }));
    const sync = new BackupSync(store, restores, ctx.instances, ctx.agents, { staleAfterMs: ctx.config.backups.stale_after_ms, abandonedAfterMs: 10 * 60_000 }, ctx.log.child({ component: 'backups' }));
    const consoleSide = consoleRoutes(ctx, ctx.instances, sockets);
    return {
      routes: [
        ...serverRoutes(ctx.config, ctx.instances, ctx.entitlements, (id) => sockets.closeServer(id, closeCodes.serverGone, 'server deleted')),
        ...powerRoutes(ctx.instances, ctx.agents, ctx.entitlements),
        ...consoleSide.routes,
        ...backupRoutes(ctx.instances, ctx.agents, ctx.entitlements, store, sync, restores),
        ...backupArchiveRoutes(ctx, ctx.instances, ctx.entitlements, store),
        ...ctx.files.routes({ base: '/servers/:id', plugin: 'game', noun: 'server', tag: 'game' }),
      ],
      websockets: [consoleSide.websocket],
      jobs: [
        { id: 'game.backups-reconcile', every_ms: ctx.config.backups.reconcile_every_ms, timeout_ms: 60_000, once_across_replicas: true, quiet: true, run: () => sync.tick() },
      ],
      dispose: async () => {
        unsubscribe();
        sockets.closeAll();
      },
    };
  },
});
