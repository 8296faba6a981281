import type { Knex } from 'knex';
import type { Registry } from 'prom-client';
import type { z } from 'zod';
import type { Logger } from '../log/logger.ts';
import type { RouteDefinition } from '../http/route.ts';
import type { JobDefinition } from '../jobs/job.ts';
import type { WebSocketRoute } from '../ws/websocket-route.ts';
import type { RawHttpHandler } from '../http/raw-handler.ts';
import type { FrontHttpHandler } from '../http/front-door.ts';
import type { RateLimiter } from '../http/rate-limiter.ts';
import type { Principal, TicketRedeemer } from '../http/principal.ts';
import type { Tickets } from '../auth/tickets.ts';
import type { Config } from '../../config/schema.ts';
import type { Entitlements } from '../billing/entitlements.ts';
import type { Accounts, AudienceSessions } from '../auth/audience-sessions.ts';
import type { EventDefinition } from '../events/event-definition.ts';
import type { Instances } from '../../plugin-api/instances.ts';
import type { Agents } from '../../plugin-api/agents.ts';
import type { Events } from '../../plugin-api/events.ts';
import type { Audit } from '../../plugin-api/audit.ts';
import type { Files } from '../../plugin-api/files.ts';
import type { Proxies } from '../../plugin-api/proxies.ts';
import type { Cluster } from '../../plugin-api/cluster.ts';
import type { Limits } from '../../plugin-api/limits.ts';
import type { Invariant } from '../invariants/invariant.ts';

/** What the core hands a plugin: capabilities (interfaces of src/plugin-api), never core classes or globals. */
export interface PluginContext<C> {
  id: string;
  /** The plugin's own settings, validated against its `configSchema`. */
  config: C;
  /** The core settings a plugin may read. */
  core: { publicUrl: string; dataDir: string; allowedOrigins: ReadonlySet<string>; proxyHops: number; ide: Readonly<Config['ide']> };
  /** A plugin touches only its own tables, prefixed with its id. */
  db: Knex;
  log: Logger;
  metrics: Registry;
  rateLimiter: RateLimiter;
  /** Socket caps and message rates counted in the database, shared by every replica (keys prefixed with the plugin id). */
  limits: Limits;
  /** Instances of every kind: create (provision), read with normalized state, delete. */
  instances: Instances;
  /** What each user's plan allows (instance counts per kind). */
  entitlements: Entitlements;
  /** The only HTTP client for agents. */
  agents: Agents;
  /** Publishes the catalogue's events (the core's and the plugin's own) and handles them. */
  events: Events;
  /** The audit log (who did what to whose resource). */
  audit: Audit;
  /** The file manager routes for a plugin's instances, raw agent streams and signed download URLs. */
  files: Files;
  /** Reverse proxies to instances' HTTP services (the IDE). */
  proxies: Proxies;
  /** This replica among the others: its id, and relays to the replica holding a connection. */
  cluster: Cluster;
  /** For WebSocket upgrades and other places Koa's route auth does not reach. */
  auth: {
    verifyAccessToken: (token: string) => Promise<Principal>;
    redeemTicket: TicketRedeemer;
    tickets: Tickets;
    /** Whether a principal authenticated earlier still holds (not logged out, reset, disabled, demoted). */
    stillValid: (principal: Principal) => Promise<boolean>;
    /** Tokens for the plugin's own API audience (its own login route), over the core's users. */
    audience: (name: string, ttlS: number) => AudienceSessions;
    /** The core's accounts, for a plugin's own user administration. */
    accounts: Accounts;
  };
}

/** Everything a plugin adds; the host validates and mounts it. */
export interface PluginContributions {
  routes?: RouteDefinition[];
  jobs?: JobDefinition[];
  websockets?: WebSocketRoute[];
  /** Whole-request handlers (proxies) matched by Host or path prefix before any route or body parser. */
  rawHttp?: RawHttpHandler[];
  /** Handlers on the server's request listener, ahead of Koa (the IDE proxy): see front-door.ts. */
  frontHttp?: FrontHttpHandler[];
  /** OpenAPI tags with descriptions (contract notes, WebSocket endpoints OpenAPI cannot describe). */
  openApiTags?: Array<{ name: string; description: string }>;
  /** Called on shutdown, plugins in reverse order of setup. */
  dispose?: () => Promise<void>;
}

export interface PanelPlugin<C = unknown> {
  /** Lower-case, also the default mount (`/api/<id>`) and the prefix of its tables and job ids. */
  id: string;
  configSchema?: z.ZodType<C>;
  /** Absolute path of the plugin's migrations folder. */
  migrationsDir?: string;
  /**
   * Absolute URL prefixes the plugin owns, for plugins that cannot live under `/api/<id>`
   * (StreamSpace: `/api/v1`, `/vnc-viewer`, `/agent/ws`). With prefixes, route paths are absolute.
   */
  prefixes?: string[];
  /** Events the plugin publishes; ids start with `<id>.`. Declared up front, so the catalogue is whole before any setup. */
  events?: readonly EventDefinition[];
  /**
   * Consistency rules of the plugin's own tables, for `npm run check-invariants` (ids start
   * with `<id>.`). Declared up front like `events`: the checker runs without setting the plugin up.
   */
  invariants?: readonly Invariant[];
  setup(ctx: PluginContext<C>): PluginContributions | Promise<PluginContributions>;
}

/** Lets TypeScript infer the config type from the schema. */
export function definePlugin<C>(plugin: PanelPlugin<C>): PanelPlugin<C> {
  return plugin;
}
