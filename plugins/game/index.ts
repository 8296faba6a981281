import { fileURLToPath } from 'node:url';
import { Gauge } from 'prom-client';
import { definePlugin, type PanelPlugin } from '../../src/plugin-api/index.ts';
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
import { gameInvariants } from './restore-invariants.ts';
import { reconcileBackupsJob } from './jobs/reconcile-backups.ts';
import { closeConsolesOnSessionsEnded } from './subscribers/close-consoles-on-sessions-ended.ts';
import { closeConsolesOfGoneServers } from './subscribers/close-consoles-of-gone-servers.ts';

/** Game servers: power, console (HTTP and a proxied WebSocket) and backups, on the agent-polling core. */
export const gamePlugin: PanelPlugin<GameConfig> = definePlugin({
  id: 'game',
  configSchema: gameConfigSchema,
  migrationsDir: fileURLToPath(new URL('./migrations', import.meta.url)),
  invariants: gameInvariants,
  setup: (ctx) => {
    const settings = ctx.config.console;
    const sockets = new ConsoleSockets({
      burst: settings.burst,
      refillMs: settings.refill_ms,
      maxBufferedBytes: settings.max_buffered_bytes,
      pingMs: settings.ping_ms,
      serverBudget: (serverId) => ctx.limits.takeToken(`console-commands:${serverId}`, { burst: settings.server_burst, refillMs: settings.server_refill_ms }),
    });
    new Gauge({
      name: 'panel_game_console_sockets',
      help: 'Open console WebSockets on this replica',
      registers: [ctx.metrics],
      collect() {
        this.set(sockets.size);
      },
    });
    const unsubscribers = [closeConsolesOnSessionsEnded(ctx.events, sockets), closeConsolesOfGoneServers(ctx.events, sockets)];
    const store = new BackupStore(ctx.db, ctx.events);
    const restores = new Restores(
      ctx.db,
      ctx.instances,
      ctx.agents,
      ctx.events,
      { timeoutMs: ctx.config.backups.restore_timeout_ms, acceptWindowMs: 60_000 },
      ctx.log.child({ component: 'restores' }),
    );
    const sync = new BackupSync(
      store,
      restores,
      ctx.instances,
      ctx.agents,
      { staleAfterMs: ctx.config.backups.stale_after_ms, abandonedAfterMs: 10 * 60_000 },
      ctx.log.child({ component: 'backups' }),
    );
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
      jobs: [reconcileBackupsJob(sync, ctx.config.backups.reconcile_every_ms)],
      dispose: async () => {
        for (const unsubscribe of unsubscribers) unsubscribe();
        sockets.closeAll();
      },
    };
  },
});
