import { fileURLToPath } from 'node:url';
import { Gauge } from 'prom-client';
import { definePlugin, type PanelPlugin } from '../../src/plugin-api/index.ts';
import { AgentHub } from './agents/agent-hub.ts';
import { agentKeyRoutes } from './agents/agent-key-routes.ts';
import { AgentKeys } from './agents/agent-keys.ts';
import { agentRoutes } from './agents/agent-routes.ts';
import { agentSocket } from './agents/agent-socket.ts';
import { AgentStore } from './agents/agent-store.ts';
import { Commands } from './agents/commands.ts';
import { shippedTemplates, streamspaceConfigSchema, type StreamspaceConfig } from './config.ts';
import { idleHibernateJob } from './jobs/idle-hibernate.ts';
import { pruneJob } from './jobs/prune.ts';
import { reconcileJob } from './jobs/reconcile.ts';
import { sweepJob } from './jobs/sweep.ts';
import { vncRecheckJob } from './jobs/vnc-recheck.ts';
import { sessionRoutes } from './sessions/session-routes.ts';
import { SessionInventory } from './sessions/session-inventory.ts';
import { SessionReports } from './sessions/session-reports.ts';
import { SessionService } from './sessions/session-service.ts';
import { SessionStore } from './sessions/session-store.ts';
import { closeEndedViewers } from './subscribers/close-ended-viewers.ts';
import { closeRekeyedAgent } from './subscribers/close-rekeyed-agent.ts';
import { closeReplacedAgent } from './subscribers/close-replaced-agent.ts';
import { closeSignedOutViewers } from './subscribers/close-signed-out-viewers.ts';
import { closeSilentAgent } from './subscribers/close-silent-agent.ts';
import { dispatchPendingCommands } from './subscribers/dispatch-pending-commands.ts';
import { templateRoutes } from './templates/template-routes.ts';
import { Templates } from './templates/template-store.ts';
import { V1Api } from './v1/api.ts';
import { authRoutes } from './v1/auth-routes.ts';
import { buckets } from './v1/buckets.ts';
import { streamspaceTag } from './v1/openapi-notes.ts';
import { unmatchedV1 } from './v1/unmatched.ts';
import { userRoutes } from './v1/user-routes.ts';
import { viewerAssets } from './vnc/viewer-assets.ts';
import { viewerPage } from './vnc/viewer-page.ts';
import { viewerSocket } from './vnc/viewer-socket.ts';
import { ViewerPlaces } from './vnc/viewer-places.ts';
import { VncMux } from './vnc/vnc-mux.ts';
import { VncTokens } from './vnc/vnc-tokens.ts';
import { RelayedViewers, acceptRelayedViewers } from './vnc/vnc-relay.ts';
import { streamspaceEvents } from './events.ts';
import { streamspaceInvariants } from './sessions/session-invariants.ts';

/** The token audience of `/api/v1`: a portal token is not accepted there, nor this one by the portal. */
export const streamspaceAudience = 'streamspace-v1';

/**
 * StreamSpace v2 control plane (docs/streamspace.md):
 * `/api/v1` (its own tokens, limits and error codes over the core's users), agents over
 * `/agent/ws` with a durable command log, and VNC relayed at `/vnc-viewer/{session_id}`.
 * This file only wires the parts together; each folder holds one of them.
 */
export const streamspacePlugin: PanelPlugin<StreamspaceConfig> = definePlugin({
  id: 'streamspace',
  configSchema: streamspaceConfigSchema,
  migrationsDir: fileURLToPath(new URL('./migrations', import.meta.url)),
  prefixes: ['/api/v1', '/vnc-viewer', '/agent/ws'],
  events: streamspaceEvents,
  invariants: streamspaceInvariants,
  setup: async (ctx) => {
    const { config, events } = ctx;
    // Sub-components bind their own component on ctx.log, not on this one: pino would write the key twice.
    const log = ctx.log.child({ component: 'streamspace' });
    const missing = Object.values(buckets).filter((name) => !ctx.rateLimiter.has(name));
    if (missing.length > 0) throw new Error(`rate_limits lacks ${missing.join(', ')}, which the streamspace plugin counts against; add them (config/default.json has the seed's numbers)`);
    const v1 = new V1Api(ctx.auth.audience(streamspaceAudience, config.token_ttl_s), ctx.rateLimiter);
    const templates = new Templates(ctx.db);
    const seeded = await templates.seed(config.templates ?? shippedTemplates());
    if (seeded > 0) log.info({ seeded }, 'seeded StreamSpace templates from config');
    const agents = new AgentStore(ctx.db);
    const store = new SessionStore(ctx.db);
    const vncTokens = new VncTokens(ctx.db);
    const vnc = new VncMux({
      readyTimeoutMs: config.vnc.ready_timeout_ms,
      activityWriteMs: config.vnc.activity_write_ms,
      touch: (id) => void store.touch(id).catch((err: unknown) => log.warn({ err }, 'could not record VNC activity')),
      log: ctx.log.child({ component: 'streamspace-vnc' }),
    });
    const keys = new AgentKeys(ctx.db);
    const reports = new SessionReports({ db: ctx.db, store, events, audit: ctx.audit, log });
    const hub = new AgentHub({
      store: agents,
      vnc,
      events,
      heartbeatIntervalS: config.heartbeat_interval_s,
      keyIsCurrent: (agentId, keyHash) => keys.isCurrent(agentId, keyHash),
      onSessionStatus: (agentId, message) => reports.received(agentId, message),
      onInventory: (agentId, sessions): Promise<number> => inventory.received(agentId, sessions),
      replicaId: ctx.cluster.replicaId,
      log: ctx.log.child({ component: 'streamspace-agents' }),
    });
    const relayed = new RelayedViewers();
    acceptRelayedViewers(ctx.cluster, { hub, vnc, log: ctx.log.child({ component: 'streamspace-vnc' }) });
    const commands = new Commands({ db: ctx.db, transport: hub, config: config.commands, log: ctx.log.child({ component: 'streamspace-commands' }) });
    hub.useCommands(commands);
    const inventory = new SessionInventory({ db: ctx.db, store, commands, events, audit: ctx.audit, log });
    const sessions = new SessionService({ db: ctx.db, store, templates, agents, commands, accounts: ctx.auth.accounts, events, config, log });

    new Gauge({
      name: 'panel_streamspace_agent_connections',
      help: 'StreamSpace agents connected to this replica',
      registers: [ctx.metrics],
      collect() {
        this.set(hub.size);
      },
    });
    new Gauge({
      name: 'panel_streamspace_vnc_streams',
      help: 'VNC viewer streams relayed by this replica',
      registers: [ctx.metrics],
      collect() {
        this.set(vnc.size);
      },
    });

    const unsubscribes = [
      closeReplacedAgent(events, { hub, log }),
      closeSilentAgent(events, { hub }),
      closeRekeyedAgent(events, { hub, log }),
      dispatchPendingCommands(events, { hub, commands, log }),
      closeEndedViewers(events, { vnc }),
      closeSignedOutViewers(events, { vnc }),
    ];

    const assets = viewerAssets();
    const routes = [
      ...authRoutes(v1),
      ...userRoutes(v1, ctx.auth.accounts),
      ...templateRoutes(v1, templates, ctx.audit),
      ...agentRoutes(v1, agents, store),
      ...agentKeyRoutes({ v1, keys, events, audit: ctx.audit }),
      ...sessionRoutes({ v1, service: sessions, store, commands, vncTokens, vncTokenTtlS: config.vnc.token_ttl_s }),
      viewerPage({ assetsBase: assets.base, frameAncestors: config.viewer.frame_ancestors }),
    ];
    return {
      routes,
      rawHttp: [unmatchedV1(v1, routes), assets.handler],
      openApiTags: [streamspaceTag],
      websockets: [
        agentSocket({ rateLimiter: ctx.rateLimiter, keys, hub }),
        viewerSocket({
          v1,
          vncTokens,
          rateLimiter: ctx.rateLimiter,
          auth: ctx.auth,
          viewerPlaces: new ViewerPlaces(ctx.limits, { perSession: config.vnc.max_viewers_per_session, perUser: config.vnc.max_viewers_per_user }),
          hub,
          vnc,
          sessions,
          cluster: ctx.cluster,
          relayed,
          log: ctx.log.child({ component: 'streamspace-vnc' }),
        }),
      ],
      jobs: [
        sweepJob({ agents, commands, hub, events, heartbeatIntervalS: config.heartbeat_interval_s, everyMs: config.sweep_every_ms, log }),
        vncRecheckJob({ vnc, sessions, auth: ctx.auth }),
        idleHibernateJob({ sessions, everyMs: config.idle_every_ms }),
        reconcileJob({ sessions }),
        pruneJob({ vncTokens, commands, keepDays: config.commands.keep_days }),
      ],
      dispose: async () => {
        for (const unsubscribe of unsubscribes) unsubscribe();
        relayed.closeAll();
        vnc.closeAll();
        hub.closeAll();
      },
    };
  },
});
