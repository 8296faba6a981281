import { z } from 'zod';
import { ConflictError, defineRoute, RANGE_DESCRIPTION, RANGE_ERROR, type Entitlements, type Instances, type PluginContext, type RouteDefinition } from '../../src/plugin-api/index.ts';
import { requireLifecycle, serverIdParams, visibleServer, type GameSpec } from './game-server.ts';
import { backupSchema, toBackup, type BackupStore } from './backup-store.ts';
import type { GameConfig } from './config.ts';
import { agentErrors, exampleBackup, exampleServer } from './examples.ts';

const backupParams = serverIdParams.extend({ backupId: z.uuid() });

/** Backup archives as raw streams: download (or a signed URL for the browser), and upload of an archive as a new backup. */
export function backupArchiveRoutes(ctx: PluginContext<GameConfig>, instances: Instances, entitlements: Entitlements, store: BackupStore): RouteDefinition[] {
  const completed = async (serverId: string, backupId: string) => {
    const backup = await store.get(serverId, backupId);
    if (backup.state !== 'completed' || backup.agent_backup_id === null)
      throw new ConflictError('BACKUP_NOT_READY', `This backup is ${backup.state}; only a completed backup can be downloaded`, { state: backup.state });
    return backup;
  };
  return [
    defineRoute({
      method: 'get',
      path: '/servers/:id/backups/:backupId/download',
      summary: "Downloads a backup's archive (.tar.gz), streamed, with X-Checksum-Sha256",
      tags: ['game'],
      auth: 'user',
      description: RANGE_DESCRIPTION,
      request: { params: backupParams },
      // Streamed by the handler from the agent's archive.
      contentType: 'application/gzip',
      responses: {
        200: z.string().meta({ format: 'binary', description: 'The backup as .tar.gz, with Content-Disposition and X-Checksum-Sha256' }),
        206: z.string().meta({ format: 'binary', description: 'The asked byte range, with Content-Range' }),
      },
      examples: { params: { id: exampleServer.id, backupId: exampleBackup.id } },
      errors: { 409: 'The backup is not completed (BACKUP_NOT_READY) or the server is not active (INSTANCE_NOT_ACTIVE)', ...agentErrors, 416: RANGE_ERROR },
      handler: async ({ params, principal, requestId, ctx: koa, ip }) => {
        const server = await visibleServer(instances, params.id, principal);
        requireLifecycle(server, ['active', 'suspended']);
        const backup = await completed(params.id, params.backupId);
        await ctx.audit.record({
          action: 'backups.archive_download',
          actorUserId: principal?.userId ?? null,
          targetUserId: server.ownerId,
          ip,
          requestId,
          details: { server_id: params.id, backup_id: backup.id },
        });
        await ctx.files.streams.respond(
          koa,
          await instances.target(params.id),
          { path: `/backups/${encodeURIComponent(backup.agent_backup_id as string)}/archive`, requestId },
          { 'Content-Disposition': `attachment; filename="${backup.name.replace(/[^A-Za-z0-9._-]/g, '_')}.tar.gz"`, 'X-Request-Id': requestId },
        );
        return undefined;
      },
    }),
    defineRoute({
      method: 'post',
      path: '/servers/:id/backups/:backupId/download-url',
      summary: "A signed URL (5 minutes, a few uses) from which a browser can download the backup's archive without the bearer header",
      tags: ['game'],
      auth: 'user',
      request: { params: backupParams },
      responses: { 201: z.object({ url: z.string(), expires_at: z.iso.datetime() }) },
      errors: { 409: 'The backup is not completed (BACKUP_NOT_READY)' },
      examples: { responses: { 201: { url: 'https://panel.example.com/api/files/signed?token=eyJrIjoi...', expires_at: '2026-11-23T10:05:00.000Z' } } },
      handler: async ({ params, principal }) => {
        await visibleServer(instances, params.id, principal);
        const backup = await completed(params.id, params.backupId);
        const signed = ctx.files.signedDownloadUrl({ kind: 'archive', userId: principal.userId, instanceId: params.id, plugin: 'game', path: backup.agent_backup_id as string });
        return { status: 201, body: { url: signed.url, expires_at: signed.expiresAt.toISOString() } };
      },
    }),
    defineRoute({
      method: 'put',
      path: '/servers/:id/backups/upload',
      summary: 'Uploads a .tar.gz archive (raw body, streamed) as a new backup; the agent checks it is a readable archive first',
      description: 'Counts against the backup limit like any backup. The new backup is `completed` and can be restored.',
      tags: ['game'],
      auth: 'user',
      bodyMode: 'raw',
      request: {
        params: serverIdParams,
        query: z.object({
          name: z
            .string()
            .trim()
            .min(1)
            .max(100)
            .regex(/^[^\0/\\]+$/)
            .optional(),
        }),
      },
      responses: { 201: z.object({ backup: backupSchema }) },
      errors: {
        400: 'Not a readable archive (AGENT_ERROR, agent code not_an_archive)',
        409: 'At the backup limit (BACKUP_LIMIT_REACHED) or not active (INSTANCE_NOT_ACTIVE)',
        413: 'Over the upload limit (PAYLOAD_TOO_LARGE)',
        ...agentErrors,
      },
      examples: { responses: { 201: { backup: { ...exampleBackup, name: 'imported-world' } } } },
      handler: async ({ params, query, principal, requestId, ctx: koa, ip }) => {
        const server = await visibleServer(instances, params.id, principal);
        requireLifecycle(server);
        const ref = { id: server.id, ownerId: server.ownerId };
        const name = query.name ?? `upload-${new Date().toISOString().replace(/[:.]/g, '-')}`;
        const plan = await entitlements.limitsFor(server.ownerId);
        const keep = Math.min((server.spec as Partial<GameSpec>).backup_limit ?? 0, plan?.backups_per_server ?? Number.POSITIVE_INFINITY);
        const reservation = await store.reserve(ref, name, false, keep);
        let answer;
        try {
          answer = await ctx.files.streams.upload(await instances.target(params.id), { path: '/backups/upload', query: { name }, requestId }, koa.req);
        } catch (err) {
          await store.release(reservation.id);
          throw err;
        }
        const backup = await store.accept(ref, reservation.id, (answer.body as { backup: Parameters<BackupStore['accept']>[2] }).backup);
        await ctx.audit.record({
          action: 'backups.archive_upload',
          actorUserId: principal?.userId ?? null,
          targetUserId: server.ownerId,
          ip,
          requestId,
          details: { server_id: params.id, backup_id: backup.id, size_bytes: backup.size_bytes },
        });
        return { status: 201, body: { backup: toBackup(backup) } };
      },
    }),
  ];
}
