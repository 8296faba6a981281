import { z } from 'zod';
import { AppError, defineRoute, ConflictError, withAgentLifecycles, type Agents, type Entitlements, type Instances, type Principal, type RouteDefinition } from '../../src/plugin-api/index.ts';
import { requireLifecycle, serverIdParams, visibleServer, type GameSpec } from './game-server.ts';
import { backupSchema, toBackup, type BackupStore } from './backup-store.ts';
import type { BackupSync } from './backup-sync.ts';
import type { Restores } from './restores.ts';
import { agentErrors, exampleBackup, exampleServer } from './examples.ts';

const backupParams = serverIdParams.extend({ backupId: z.uuid().describe('Backup id') });
const backupName = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .regex(/^[^\0/\\]+$/, 'no NUL, / or \\');
const agentRefusal = "The agent refused (AGENT_ERROR with the agent's status, its body in details.agent_body; e.g. 409 when a backup is already running)";

/** Backups with the seed's routes; every success answers the API's Backup shape, every failure the envelope. */
export function backupRoutes(instances: Instances, agents: Agents, entitlements: Entitlements, store: BackupStore, sync: BackupSync, restores: Restores): RouteDefinition[] {
  const serverFor = async (id: string, principal: Principal | null) => {
    const instance = await visibleServer(instances, id, principal);
    return { instance, ref: { id: instance.id, ownerId: instance.ownerId } };
  };
  return [
    defineRoute({
      method: 'get',
      path: '/servers/:id/backups',
      summary: "The server's backups, newest first, reconciled with the agent's list",
      tags: ['game'],
      auth: 'user',
      request: { params: serverIdParams },
      responses: { 200: z.object({ backups: z.array(backupSchema) }) },
      errors: { 409: 'The server has no agent now (INSTANCE_NOT_ACTIVE)', ...agentErrors },
      examples: { responses: { 200: { backups: [exampleBackup] } } },
      handler: async ({ params, principal, requestId }) => {
        const { instance, ref } = await serverFor(params.id, principal);
        requireLifecycle(instance, withAgentLifecycles);
        await sync.syncServer(ref, { kind: 'action', requestId });
        return { body: { backups: (await store.list(params.id)).map(toBackup) } };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/servers/:id/backups',
      summary: 'Starts a backup; it answers `in_progress`, and `backup.updated` events follow until it is `completed` or `failed`',
      description: "At most the template's backup limit per server, and no more than the owner's plan allows (failed ones do not count); 2 new backups per 10 minutes per server.",
      tags: ['game'],
      auth: 'user',
      request: {
        params: serverIdParams,
        body: z.strictObject({ name: backupName.optional().describe('default: backup-<timestamp>'), locked: z.boolean().default(false).describe('a locked backup cannot be deleted until unlocked') }),
      },
      responses: { 202: z.object({ backup: backupSchema }) },
      errors: {
        409: `The server is not active (INSTANCE_NOT_ACTIVE), it has reached its backup limit (BACKUP_LIMIT_REACHED), or ${agentRefusal}`,
        429: 'More than 2 backups in 10 minutes on this server (RATE_LIMIT_EXCEEDED)',
        ...agentErrors,
      },
      examples: {
        body: { name: 'before-update', locked: true },
        responses: { 202: { backup: { ...exampleBackup, state: 'in_progress', size_bytes: null, sha256: null, completed_at: null, locked: true } } },
      },
      handler: async ({ params, body, principal, requestId, limit }) => {
        const { instance, ref } = await serverFor(params.id, principal);
        requireLifecycle(instance);
        const name = body.name ?? `backup-${new Date().toISOString().replace(/[:.]/g, '-')}`;
        // Counted only once the caller is known to own the server, so nobody else can use up its budget.
        await limit('game_backup_create', params.id);
        // The template's limit, within what the owner's plan allows.
        const plan = await entitlements.limitsFor(instance.ownerId);
        const keep = Math.min((instance.spec as Partial<GameSpec>).backup_limit ?? 0, plan?.backups_per_server ?? Number.POSITIVE_INFINITY);
        const reservation = await store.reserve(ref, name, body.locked, keep);
        let agentBackup;
        try {
          const answer = await agents.call(await instances.target(params.id), 'createBackup', { requestId, body: { name } });
          agentBackup = answer.backup;
        } catch (err) {
          await store.release(reservation.id);
          throw err;
        }
        return { status: 202, body: { backup: toBackup(await store.accept(ref, reservation.id, agentBackup)) } };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/servers/:id/backups/restore',
      summary: 'Restores a completed backup: the server is `restoring_backup` (power and console refused) until the agent reports it done or failed, then `active` again with its workload stopped',
      description: 'A restore that fails or times out leaves `lifecycle_reason` saying so; `backup.updated` carries `restore.state`.',
      tags: ['game'],
      auth: 'user',
      request: { params: serverIdParams, query: z.object({ id: z.uuid().describe('the backup to restore') }) },
      responses: { 202: z.object({ backup: backupSchema }) },
      errors: { 409: `The server is not active (INSTANCE_NOT_ACTIVE), the backup is not completed (BACKUP_NOT_RESTORABLE), or ${agentRefusal}`, ...agentErrors },
      examples: { responses: { 202: { backup: exampleBackup } } },
      handler: async ({ params, query, principal, requestId }) => {
        const { instance, ref } = await serverFor(params.id, principal);
        requireLifecycle(instance);
        const backup = await store.get(params.id, query.id);
        await restores.begin(ref, backup, requestId);
        return { status: 202, body: { backup: toBackup(backup) } };
      },
    }),
    defineRoute({
      method: 'patch',
      path: '/servers/:id/backups/:backupId',
      summary: 'Locks or unlocks a backup (a locked backup cannot be deleted; deleting the server still removes it)',
      tags: ['game'],
      auth: 'user',
      request: { params: backupParams, body: z.strictObject({ locked: z.boolean() }) },
      responses: { 200: z.object({ backup: backupSchema }) },
      examples: { body: { locked: true }, responses: { 200: { backup: { ...exampleBackup, locked: true } } } },
      handler: async ({ params, body, principal }) => {
        const { ref } = await serverFor(params.id, principal);
        return { body: { backup: toBackup(await store.setLocked(ref, params.backupId, body.locked)) } };
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/servers/:id/backups/:backupId',
      summary: 'Deletes a backup on the agent and its record; a backup the agent no longer has is still removed here',
      tags: ['game'],
      auth: 'user',
      request: { params: backupParams },
      responses: { 204: null },
      examples: { params: { id: exampleServer.id, backupId: exampleBackup.id } },
      errors: { 409: `The backup is locked (BACKUP_LOCKED), the server is not active (INSTANCE_NOT_ACTIVE), or ${agentRefusal}`, ...agentErrors },
      handler: async ({ params, principal, requestId }) => {
        const { instance, ref } = await serverFor(params.id, principal);
        const backup = await store.get(params.id, params.backupId);
        if (backup.locked) throw new ConflictError('BACKUP_LOCKED', 'This backup is locked; unlock it (PATCH {"locked": false}) before deleting it');
        requireLifecycle(instance);
        if (backup.agent_backup_id !== null) {
          try {
            await agents.call(await instances.target(params.id), 'deleteBackup', { requestId, params: { id: backup.agent_backup_id } });
          } catch (err) {
            // Already gone on the agent: the record goes too.
            if (!(err instanceof AppError && err.status === 404 && err.code === 'AGENT_ERROR')) throw err;
          }
        }
        await store.remove(ref, backup);
        return { status: 204 };
      },
    }),
  ];
}
