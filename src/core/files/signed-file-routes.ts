import { posix } from 'node:path';
import type { Knex } from 'knex';
import { z } from 'zod';
import { defineRoute, type RouteDefinition } from '../http/route.ts';
import { principalForUser } from '../auth/authenticator.ts';
import { UnauthorizedError } from '../http/errors.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AgentStreams } from '../agent/agent-streams.ts';
import type { InstanceService } from '../instances/instance-service.ts';
import { requireLifecycle, visibleInstance } from '../instances/instance-access.ts';
import type { SignedUrls } from './signed-urls.ts';
import { RANGE_DESCRIPTION, RANGE_ERROR } from './download-ranges.ts';

const tokenQuery = z.object({ token: z.string().min(20).max(2000).describe('the signed token from download-url / upload-url') });
const entrySchema = z.object({ name: z.string(), type: z.enum(['file', 'dir']), size_bytes: z.number().int(), modified_at: z.string() });

/**
 * Where signed URLs lead: `GET` downloads, `PUT` uploads, no Authorization header. The token
 * is checked (signature, expiry, direction, uses), then everything a bearer request would be:
 * the user still active, still allowed to see the instance, the instance active.
 */
export function signedFileRoutes(db: Knex, signed: SignedUrls, instances: InstanceService, streams: AgentStreams, audit: AuditLog): RouteDefinition[] {
  const grantFor = async (token: string, direction: 'download' | 'upload') => {
    const grant = await signed.spend(token, direction);
    const principal = await principalForUser(db, grant.userId, `signed-url:${direction}`);
    const instance = await visibleInstance(instances, grant.instanceId, principal, grant.plugin, 'instance');
    requireLifecycle(instance, 'instance');
    return { grant, instance };
  };
  return [
    defineRoute({
      method: 'get',
      path: '/api/files/signed',
      summary: 'Downloads through a signed URL (from .../files/download-url or .../backups/:id/download-url); usable a few times within 5 minutes, for resumed downloads',
      tags: ['files'],
      auth: 'none',
      request: { query: tokenQuery },
      description: RANGE_DESCRIPTION,
      // Streamed by the handler with the agent's Content-Type (bytes, usually application/octet-stream).
      contentType: 'application/octet-stream',
      responses: {
        200: z.string().meta({ format: 'binary', description: 'The file or archive, with Content-Disposition: attachment' }),
        206: z.string().meta({ format: 'binary', description: 'The asked byte range, with Content-Range' }),
      },
      examples: { params: { token: 'eyJ1IjoiNmExZDJhOGUiLCJwIjoiL3dvcmxkIn0.c2lnbmF0dXJlLWZvci1leGFtcGxl' } },
      errors: { 401: 'The link is invalid, expired or used up (SIGNED_URL_INVALID)', 409: 'The instance is not `active` (INSTANCE_NOT_ACTIVE)', 416: RANGE_ERROR },
      handler: async ({ query, requestId, ctx, ip }) => {
        const { grant, instance } = await grantFor(query.token, 'download');
        const archive = grant.kind === 'archive';
        const name = archive ? `${grant.path}.tar.gz` : posix.basename(grant.path) || 'download';
        await audit.record({
          action: archive ? 'backups.archive_download' : 'files.signed_download',
          actorUserId: grant.userId,
          targetUserId: instance.ownerId,
          ip,
          requestId,
          details: { instance_id: grant.instanceId, [archive ? 'agent_backup_id' : 'path']: grant.path },
        });
        const call = archive ? { path: `/backups/${encodeURIComponent(grant.path)}/archive`, requestId } : { path: '/files/content', query: { path: grant.path }, requestId };
        await streams.respond(ctx, await instances.target(grant.instanceId), call, {
          'Content-Disposition': `attachment; filename*=UTF-8''${encodeURIComponent(name)}`,
          'Cache-Control': 'no-store',
          'X-Request-Id': requestId,
        });
        return undefined;
      },
    }),
    defineRoute({
      method: 'put',
      path: '/api/files/signed',
      summary: 'Uploads through a signed URL (from .../files/upload-url); usable once within 5 minutes',
      tags: ['files'],
      auth: 'none',
      bodyMode: 'raw',
      request: { query: tokenQuery },
      responses: { 201: z.object({ entry: entrySchema }) },
      examples: { responses: { 201: { entry: { name: 'server.properties', type: 'file', size_bytes: 1180, modified_at: '2026-11-23T10:00:00.000Z' } } } },
      errors: { 401: 'The link is invalid, expired or already used (SIGNED_URL_INVALID)', 413: 'Over the upload limit (PAYLOAD_TOO_LARGE)' },
      handler: async ({ query, requestId, ctx, ip }) => {
        const { grant, instance } = await grantFor(query.token, 'upload');
        if (grant.kind !== 'file') throw new UnauthorizedError('SIGNED_URL_INVALID', 'This link is not for uploads');
        const answer = await streams.upload(await instances.target(grant.instanceId), { path: '/files/content', query: { path: grant.path }, requestId }, ctx.req);
        const entry = (answer.body as { entry: z.infer<typeof entrySchema> }).entry;
        await audit.record({
          action: 'files.upload',
          actorUserId: grant.userId,
          targetUserId: instance.ownerId,
          ip,
          requestId,
          details: { instance_id: grant.instanceId, path: grant.path, size_bytes: entry.size_bytes, signed: true },
        });
        return { status: 201, body: { entry: { name: entry.name, type: entry.type, size_bytes: entry.size_bytes, modified_at: entry.modified_at } } };
      },
    }),
  ];
}
