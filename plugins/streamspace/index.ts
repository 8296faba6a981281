import { fileURLToPath } from 'node:url';
import { Gauge } from 'prom-client';
import { definePlugin, type PanelEvent, type PanelPlugin } from '../../src/plugin-api/index.ts';
import { V1Api } from './v1/api.ts';
import { buckets } from './v1/buckets.ts';
import { unmatchedV1 } from './v1/unmatched.ts';
import { AgentHub } from './agents/agent-hub.ts';
import { agentCloseCodes } from './contract/close-codes.ts';
import { AgentKeys } from './agents/agent-keys.ts';
import { agentKeyRoutes } from './agents/agent-key-routes.ts';
import { agentRoutes } from './agents/agent-routes.ts';
import { AgentStore } from './agents/agent-store.ts';
import { authRoutes } from './v1/auth-routes.ts';
import { userRoutes } from './v1/user-routes.ts';
import { Commands } from './agents/commands.ts';
import { shippedTemplates, streamspaceConfigSchema, type StreamspaceConfig } from './config.ts';
import { sessionRoutes } from './sessions/session-routes.ts';
import { SessionService } from './sessions/session-service.ts';
import { SessionStore } from './sessions/session-store.ts';
import { agentSocket } from './agents/agent-socket.ts';
import { viewerSocket } from './vnc/viewer-socket.ts';
import { templateRoutes } from './templates/template-routes.ts';
import { Templates } from './templates/template-store.ts';
import { VncMux } from './vnc/vnc-mux.ts';
import { VncTokens } from './vnc/vnc-tokens.ts';
import { streamspaceTag } from './v1/openapi-notes.ts';
import { idleHibernateJob } from './jobs/idle-hibernate.ts';
import { pruneJob } from './jobs/prune.ts';
import { reconcileJob } from './jobs/reconcile.ts';
import { sweepJob } from './jobs/sweep.ts';
import { vncRecheckJob } from './jobs/vnc-recheck.ts';

/** The token audience of `/api/v1`: a portal token is not accepted there, nor this one by the portal. */
export const streamspaceAudience = 'streamspace-v1';

/**
 * StreamSpace v2 control plane (seeds/streamspace-api-reference.txt + STREAMSPACE-ADDENDUM.md):
 * `/api/v1` (its own tokens, limits and error codes over the core's users), agents over
 * `/agent/ws` with a durable command log, and VNC relayed at `/vnc-viewer/{session_id}`.
 */
export const streamspacePlugin: PanelPlugin<StreamspaceConfig> = definePlugin({
  id: 'streamspace',
  configSchema: streamspaceConfigSchema,
  migrationsDir: fileURLToPath(new URL('./migrations', import.meta.url)),
  prefixes: ['/api/v1', '/vnc-viewer', '/agent/ws'],
  setup: async (ctx) => {
    const log = ctx.log.child({ component: 'streamspace' });
    const missing = Object.values(buckets).filter((name) => !ctx.rateLimiter.has(name));
    if (missing.length > 0) throw new Error(`rate_limits lacks ${missing.join(', ')}, which the streamspace plugin counts against; add them (config/default.json has the seed's numbers)`);
    const v1 = new V1Api(ctx.auth.audience(streamspaceAudience, ctx.config.token_ttl_s), ctx.rateLimiter);
    const templates = new Templates(ctx.db);
    const seeded = await templates.seed(ctx.config.templates ?? shippedTemplates());
    if (seeded > 0) log.info({ seeded }, 'seeded StreamSpace templates from config');
    const agents = new AgentStore(ctx.db);
    const store = new SessionStore(ctx.db);
    const vncTokens = new VncTokens(ctx.db);
    const vnc = new VncMux({
      readyTimeoutMs: ctx.config.vnc.ready_timeout_ms,
      activityWriteMs: ctx.config.vnc.activity_write_ms,
      touch: (id) => void store.touch(id).catch((err: unknown) => log.warn({ err }, 'could not record VNC activity')),
      log: log.child({ component: 'streamspace-vnc' }),
    });
    const keys = new AgentKeys(ctx.db);
    const hub = new AgentHub({ store: agents, vnc, events: ctx.events, heartbeatIntervalS: ctx.config.heartbeat_interval_s, keyIsCurrent: (agentId, keyHash) => keys.isCurrent(agentId, keyHash), log: log.child({ component: 'streamspace-agents' }) });
    const commands = new Commands({ db: ctx.db, transport: hub, config: ctx.config.commands, log: log.child({ component: 'streamspace-commands' }) });
    hub.useCommands(commands);
    const sessions = new SessionService({ db: ctx.db, store, templates, agents, commands, accounts: ctx.auth.accounts, events: ctx.events, config: ctx.config, log });

    new Gauge({ name: 'panel_streamspace_agent_connections', help: 'StreamSpace agents connected to this replica', registers: [ctx.metrics], collect() { this.set(hub.size); } });
    new Gauge({ name: 'panel_streamspace_vnc_streams', help: 'VNC viewer streams relayed by this replica', registers: [ctx.metrics], collect() { this.set(vnc.size); } });

    const onEvent = (event: PanelEvent): void => {
      const data = (event.data ?? {}) as { agent_id?: string; conn_id?: string; session_id?: string; state?: string; user_id?: string; family_ids?: string[] | null };
      if (event.type === 'streamspace.agent_replaced' && data.agent_id) void hub.replacedElsewhere(data.agent_id).catch((err: unknown) => log.warn({ err }, 'could not check a replaced agent'));
      else if (event.type === 'streamspace.agent_offline' && data.agent_id && data.conn_id) hub.closeConnection(data.agent_id, data.conn_id, agentCloseCodes.stale, 'no heartbeat for 3 intervals; reconnect and register');
      else if (event.type === 'streamspace.agent_key_changed' && data.agent_id) void hub.keyChanged(data.agent_id).catch((err: unknown) => log.warn({ err }, 'could not check agent keys'));
      else if (event.type === 'streamspace.commands_pending' && data.agent_id && hub.isLocal(data.agent_id)) void commands.dispatch(data.agent_id).catch((err: unknown) => log.warn({ err }, 'dispatch failed'));
      else if (event.type === 'streamspace.session_state' && data.session_id && data.state !== 'running') vnc.closeSession(data.session_id, `session is ${data.state ?? 'gone'}`);
      else if (event.type === 'user.sessions_ended' && data.user_id) vnc.closeUser(data.user_id, data.family_ids ?? null);
    };
    const unsubscribe = ctx.events.subscribe(onEvent);

    const routes = [
      ...authRoutes(v1),
      ...userRoutes(v1, ctx.auth.accounts),
      ...templateRoutes(v1, templates, ctx.audit),
      ...agentRoutes(v1, agents, store),
      ...agentKeyRoutes({ v1, keys, events: ctx.events, audit: ctx.audit }),
      ...sessionRoutes({ v1, service: sessions, store, commands, vncTokens, vncTokenTtlS: ctx.config.vnc.token_ttl_s }),
    ];
    return {
      routes,
      rawHttp: [unmatchedV1(v1, routes)],
      openApiTags: [streamspaceTag],
      websockets: [
        agentSocket({ rateLimiter: ctx.rateLimiter, keys, hub }),
        viewerSocket({ v1, vncTokens, rateLimiter: ctx.rateLimiter, auth: ctx.auth, maxViewersPerSession: ctx.config.vnc.max_viewers_per_session, hub, vnc, sessions }),
      ],
      jobs: [
        sweepJob({ agents, commands, hub, events: ctx.events, heartbeatIntervalS: ctx.config.heartbeat_interval_s, everyMs: ctx.config.sweep_every_ms, log }),
        vncRecheckJob({ vnc, sessions, auth: ctx.auth }),
        idleHibernateJob({ sessions, everyMs: ctx.config.idle_every_ms }),
        reconcileJob({ sessions }),
        pruneJob({ vncTokens, commands, keepDays: ctx.config.commands.keep_days }),
      ],
      dispose: async () => {
        unsubscribe();
        vnc.closeAll();
        hub.closeAll();
      },
    };
  },
});
