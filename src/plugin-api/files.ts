import type { Context } from 'koa';
import type { IncomingMessage } from 'node:http';
import type { AgentTarget } from '../core/agent/agent-client.ts';
import type { StreamCall } from '../core/agent/agent-streams.ts';
import type { FileRouteOptions } from '../core/files/file-routes.ts';
import type { SignedKind } from '../core/files/signed-urls.ts';
import type { RouteDefinition } from '../core/http/route.ts';

/** Raw byte streams to and from agents (archives), with the core's stall and size limits. */
export interface AgentByteStreams {
  /** Streams the agent's answer to the client as the route's response. */
  respond(koa: Context, target: AgentTarget, call: StreamCall, headers: Record<string, string>): Promise<void>;
  /** Streams the request body to the agent and returns its JSON answer. */
  upload(target: AgentTarget, call: StreamCall, body: IncomingMessage): Promise<{ status: number; body: unknown }>;
}

/** The file manager for a plugin's instances. */
export interface Files {
  /** List, download, upload, delete and mkdir routes under the plugin's instance path. */
  routes(options: FileRouteOptions): RouteDefinition[];
  streams: AgentByteStreams;
  /** A signed URL (5 minutes) for a browser to download a file or an archive without the bearer header. */
  signedDownloadUrl(grant: { kind: SignedKind; userId: string; instanceId: string; plugin: string; path: string }): { url: string; expiresAt: Date };
}
