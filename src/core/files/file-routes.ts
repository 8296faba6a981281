import { posix } from 'node:path';
import { z } from 'zod';
import { defineRoute, type RouteDefinition } from '../http/route.ts';
import { BadRequestError } from '../http/errors.ts';
import type { Principal } from '../http/principal.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AgentClient } from '../agent/agent-client.ts';
import type { AgentStreams } from '../agent/agent-streams.ts';
import type { InstanceService } from '../instances/instance-service.ts';
import { requireLifecycle, visibleInstance } from '../instances/instance-access.ts';
import type { Direction, SignedUrls } from './signed-urls.ts';
import { RANGE_DESCRIPTION, RANGE_ERROR } from './download-ranges.ts';

/**
 * A path inside the instance's data directory, checked before it reaches the agent: no NUL,
 * no `..` segment, at most 1024 characters; a leading `/` is the data directory's root (never
 * the host's). Normalised, so `/a//b/./c` is `/a/b/c`.
 */
export const instancePath = z
  .string()
  .min(1)
  .max(1024)
  .refine((p) => !p.includes('\0'), 'must not contain NUL')
  .transform((p) => p.replace(/\\/g, '/'))
  .refine((p) => !p.split('/').includes('..'), 'must stay inside the data directory (no ".." segments)')
  .transform((p) => posix.normalize(`/${p}`).replace(/\/$/, '') || '/')
  .describe('path inside the data directory; "/" is its root');

const entrySchema = z.object({ name: z.string(), type: z.enum(['file', 'dir']), size_bytes: z.number().int(), modified_at: z.string() }).meta({ id: 'FileEntry' });
const pathQuery = z.object({ path: instancePath });
const agentErrors = {
  400: 'The path is not valid or leaves the data directory (VALIDATION_FAILED, or AGENT_ERROR with agent code path_outside_root)',
  409: 'The instance is not `active` (INSTANCE_NOT_ACTIVE)',
  502: 'The agent answered 5xx or garbage (AGENT_BAD_RESPONSE)',
  504: 'The agent is unreachable (AGENT_UNREACHABLE) or the transfer stalled (AGENT_TIMEOUT)',
};

export interface FileRouteDeps {
  signed: SignedUrls;
  publicUrl: string;
  instances: InstanceService;
  agents: AgentClient;
  streams: AgentStreams;
  audit: AuditLog;
  maxUploadBytes: number;
}

export interface FileRouteOptions {
  /** Route path of one instance, relative to the plugin's mount (`/servers/:id`) or absolute for prefixed plugins. */
  base: string;
  plugin: string;
  /** What the plugin calls its instances in messages (`server`, `dev container`). */
  noun: string;
  tag: string;
}

/**
 * The file manager of an instance, shared by every plugin whose instances have a data
 * directory: list, download and upload (streamed, never buffered), delete, mkdir. Ownership
 * (another user's instance is a 404) and an `active` lifecycle first; uploads and deletes go
 * to the audit log. Uploads are raw routes: no body parser touches them.
 */
export function fileRoutes(deps: FileRouteDeps, options: FileRouteOptions): RouteDefinition[] {
  const { instances, agents, streams, audit } = deps;
  const params = z.object({ id: z.uuid() });
  const ready = async (id: string, principal: Principal | null) => {
    const instance = await visibleInstance(instances, id, principal, options.plugin, options.noun);
    requireLifecycle(instance, options.noun);
    return instance;
  };
  const note = (action: string, principal: Principal | null, instanceId: string, ownerId: string, details: Record<string, unknown>, ip: string, requestId: string) =>
    audit.record({ action, actorUserId: principal?.userId ?? null, targetUserId: ownerId, ip, requestId, details: { instance_id: instanceId, plugin: options.plugin, ...details } });
  const signedUrlRoute = (direction: Direction) =>
    defineRoute({
      method: 'post',
      path: `${options.base}/files/${direction}-url`,
      summary: `A signed URL a browser can ${direction === 'download' ? 'download the file from (usable a few times, for resumed downloads)' : 'PUT the file to (usable once)'} for 5 minutes, without the bearer header`,
      tags: [options.tag],
      auth: 'user',
      request: { params, body: z.strictObject({ path: instancePath }) },
      responses: { 201: z.object({ url: z.string(), expires_at: z.iso.datetime() }) },
      errors: agentErrors,
      examples: { body: { path: '/world/level.dat' }, responses: { 201: { url: 'https://panel.example.com/api/files/signed?token=eyJ1Ijoi...', expires_at: '2026-11-23T10:05:00.000Z' } } },
      handler: async ({ params: p, body, principal }) => {
        await ready(p.id, principal);
        const issued = deps.signed.issue({ kind: 'file', userId: principal.userId, instanceId: p.id, plugin: options.plugin, path: body.path, direction });
        return { status: 201, body: { url: `${deps.publicUrl.replace(/\/$/, '')}/api/files/signed?token=${encodeURIComponent(issued.token)}`, expires_at: issued.expiresAt.toISOString() } };
      },
    });
  return [
    signedUrlRoute('download'),
    signedUrlRoute('upload'),
    defineRoute({
      method: 'get',
      path: `${options.base}/files`,
      summary: `Lists a directory of the ${options.noun}'s data`,
      tags: [options.tag],
      auth: 'user',
      request: { params, query: pathQuery },
      responses: { 200: z.object({ path: z.string(), entries: z.array(entrySchema) }) },
      errors: { ...agentErrors, 404: `No such ${options.noun}, or no such directory (AGENT_ERROR)` },
      examples: { responses: { 200: { path: '/world', entries: [{ name: 'level.dat', type: 'file', size_bytes: 8192, modified_at: '2026-11-23T10:00:00.000Z' }] } } },
      handler: async ({ params: p, query, principal, requestId }) => {
        await ready(p.id, principal);
        const answer = await agents.call(await instances.target(p.id), 'listFiles', { requestId, query: { path: query.path } });
        return { body: { path: answer.path, entries: answer.entries.map((e) => ({ name: e.name, type: e.type, size_bytes: e.size_bytes, modified_at: e.modified_at })) } };
      },
    }),
    defineRoute({
      method: 'get',
      path: `${options.base}/files/content`,
      summary: 'Downloads a file, streamed (Content-Disposition: attachment), whole or one byte range',
      description: RANGE_DESCRIPTION,
      tags: [options.tag],
      auth: 'user',
      request: { params, query: pathQuery },
      // Streamed by the handler with the agent's Content-Type (bytes, usually application/octet-stream).
      contentType: 'application/octet-stream',
      responses: {
        200: z.string().meta({ format: 'binary', description: "The file's bytes, with Content-Disposition: attachment" }),
        206: z.string().meta({ format: 'binary', description: 'The asked byte range, with Content-Range' }),
      },
      examples: { params: { path: '/server.properties' } },
      errors: { ...agentErrors, 416: RANGE_ERROR },
      handler: async ({ params: p, query, principal, requestId, ctx }) => {
        await ready(p.id, principal);
        const name = posix.basename(query.path) || 'download';
        await streams.respond(
          ctx,
          await instances.target(p.id),
          { path: '/files/content', query: { path: query.path }, requestId },
          { 'Content-Disposition': `attachment; filename*=UTF-8''${encodeURIComponent(name)}`, 'X-Request-Id': requestId },
        );
        return undefined;
      },
    }),
    defineRoute({
      method: 'put',
      path: `${options.base}/files/content`,
      summary: 'Uploads a file: the raw body is streamed to the agent (temporary file, then renamed into place)',
      description: `Send the bytes as the body (any Content-Type). Over ${deps.maxUploadBytes} bytes answers 413 as soon as the limit is crossed, and nothing is left on the ${options.noun}.`,
      tags: [options.tag],
      auth: 'user',
      bodyMode: 'raw',
      request: { params, query: pathQuery },
      responses: { 201: z.object({ entry: entrySchema }) },
      errors: { ...agentErrors, 413: 'Over the upload limit (PAYLOAD_TOO_LARGE)', 507: 'The disk is full (AGENT_ERROR, agent code disk_full)' },
      examples: { responses: { 201: { entry: { name: 'server.properties', type: 'file', size_bytes: 1180, modified_at: '2026-11-23T10:00:00.000Z' } } } },
      handler: async ({ params: p, query, principal, requestId, ctx, ip }) => {
        const instance = await ready(p.id, principal);
        const answer = await streams.upload(await instances.target(p.id), { path: '/files/content', query: { path: query.path }, requestId }, ctx.req);
        const entry = (answer.body as { entry: z.infer<typeof entrySchema> }).entry;
        await note('files.upload', principal, p.id, instance.ownerId, { path: query.path, size_bytes: entry.size_bytes }, ip, requestId);
        return { status: 201, body: { entry: { name: entry.name, type: entry.type, size_bytes: entry.size_bytes, modified_at: entry.modified_at } } };
      },
    }),
    defineRoute({
      method: 'delete',
      path: `${options.base}/files`,
      summary: 'Deletes a file or a directory with everything in it',
      tags: [options.tag],
      auth: 'user',
      request: { params, query: pathQuery },
      responses: { 204: null },
      examples: { params: { path: '/logs/old' } },
      errors: agentErrors,
      handler: async ({ params: p, query, principal, requestId, ip }) => {
        const instance = await ready(p.id, principal);
        if (query.path === '/') throw new BadRequestError('PATH_IS_ROOT', 'The data directory itself cannot be deleted; delete what is in it');
        await agents.call(await instances.target(p.id), 'deleteFile', { requestId, query: { path: query.path } });
        await note('files.delete', principal, p.id, instance.ownerId, { path: query.path }, ip, requestId);
        return { status: 204 };
      },
    }),
    defineRoute({
      method: 'post',
      path: `${options.base}/files/mkdir`,
      summary: 'Creates a directory (and its parents)',
      tags: [options.tag],
      auth: 'user',
      request: { params, body: z.strictObject({ path: instancePath }) },
      responses: { 201: z.object({ entry: entrySchema }) },
      errors: { ...agentErrors, 409: 'Something exists at that path (AGENT_ERROR), or the instance is not `active` (INSTANCE_NOT_ACTIVE)' },
      examples: { body: { path: '/mods' }, responses: { 201: { entry: { name: 'mods', type: 'dir', size_bytes: 0, modified_at: '2026-11-23T10:00:00.000Z' } } } },
      handler: async ({ params: p, body, principal, requestId }) => {
        await ready(p.id, principal);
        const answer = await agents.call(await instances.target(p.id), 'makeDirectory', { requestId, body: { path: body.path } });
        const e = answer.entry;
        return { status: 201, body: { entry: { name: e.name, type: e.type, size_bytes: e.size_bytes, modified_at: e.modified_at } } };
      },
    }),
  ];
}
