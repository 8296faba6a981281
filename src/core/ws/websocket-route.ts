import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Logger } from '../log/logger.ts';

export interface UpgradeContext {
  req: IncomingMessage;
  url: URL;
  /** Path parameters (`:id`) and Host parameters from the route's `host` matcher. */
  params: Record<string, string>;
  requestId: string;
  ip: string;
  /** The browser's Origin header; null for non-browser clients. */
  origin: string | null;
  log: Logger;
}

/**
 * A WebSocket endpoint, declared by the core or a plugin. Koa middleware never runs for
 * upgrades, so `authorize` is where authentication, ownership and per-resource caps live:
 * throw an AppError to refuse (its status and envelope go back before any upgrade).
 */
export interface WebSocketRoute<T = unknown> {
  /** Path pattern with `:params`; matched when `host` is absent or also matches. */
  path?: string;
  /** Matches the request's Host (port ignored); returns parameters, or null for no match. */
  host?: (hostname: string) => Record<string, string> | null;
  /** `panel` (default): PUBLIC_URL's origin and ALLOWED_ORIGINS; `any`; or a custom check. */
  origin?: 'panel' | 'any' | ((origin: string, ctx: UpgradeContext) => boolean);
  /** Largest inbound message; bigger closes the socket with 1009. Default 64 KiB. */
  maxPayloadBytes?: number;
  /**
   * Picks the subprotocol from those the client offered (Sec-WebSocket-Protocol), before
   * `authorize`: a name to select it, null for none; throw an AppError to refuse the upgrade.
   * Absent: the first one offered is selected (the ws default).
   */
  subprotocol?(offered: readonly string[]): string | null;
  authorize(ctx: UpgradeContext): Promise<T>;
  /** Called once the socket is open; an `error` listener is already attached. */
  onConnection?(ws: WebSocket, ctx: UpgradeContext, grant: T): void;
  /**
   * Instead of `onConnection`: takes the raw upgrade after `authorize` (to proxy it whole,
   * as the IDE proxy does). The socket has an `error` listener; shutdown destroys it.
   */
  onUpgrade?(req: IncomingMessage, socket: Duplex, head: Buffer, ctx: UpgradeContext, grant: T): void;
  /** How the OpenAPI document describes this endpoint; an endpoint without it (internal relays, proxies) is left out. */
  docs?: WebSocketDocs;
}

/** A WebSocket endpoint in the OpenAPI document: a GET answering 101, with what OpenAPI cannot say in `x-websocket`. */
export interface WebSocketDocs {
  operationId: string;
  summary: string;
  /** The frames each side sends, and anything else a client must know. */
  description: string;
  tags?: string[];
  /** How the upgrade authenticates: a security scheme (e.g. `{ type: 'apiKey', in: 'query', name: 'ticket' }`) under its name. */
  security: { name: string; scheme: Record<string, unknown> };
  /** Query parameters besides the credential. */
  query?: Array<{ name: string; description: string; required: boolean }>;
  /** Subprotocols the server selects (Sec-WebSocket-Protocol); empty: none. */
  subprotocols: string[];
  /** Refusals answered before the upgrade, as the error envelope: status → description naming the codes. */
  errors: Record<number, string>;
  /** Close codes after the upgrade → meaning. */
  closeCodes: Record<number, string>;
  /** Example path/query parameter values, and example frames (`x-websocket.frames`). */
  examples?: { params?: Record<string, string>; frames?: Array<{ from: 'client' | 'server'; data: unknown }> };
}

export interface MountedWebSocketRoute {
  owner: string;
  /** Absolute path pattern, or null for host-only routes. */
  fullPath: string | null;
  route: WebSocketRoute;
}

/** Lets TypeScript carry the grant's type from `authorize` to `onConnection`. */
export function defineWebSocket<T>(route: WebSocketRoute<T>): WebSocketRoute {
  return route;
}
