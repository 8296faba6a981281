import type { Agents, Instances, Logger } from '../../src/plugin-api/index.ts';
import type { BackupStore, ServerRef } from './backup-store.ts';
import type { Restores } from './restores.ts';

export interface BackupSyncSettings {
  staleAfterMs: number;
  /** A reservation whose request died this long ago is dropped. */
  abandonedAfterMs: number;
}

/**
 * Keeps the backup records true without anyone looking: asks the agents of servers with
 * backups in progress for their list, fails backups that never finish, drops reservations
 * of requests that died, and follows restores in flight.
 */
export class BackupSync {
  constructor(
    private readonly store: BackupStore,
    private readonly restores: Restores,
    private readonly instances: Instances,
    private readonly agents: Agents,
    private readonly settings: BackupSyncSettings,
    private readonly log: Logger,
  ) {}

  /** Fetches the agent's list and reconciles; `kind: 'action'` for a user waiting on it, `poll` for the job. */
  async syncServer(server: ServerRef, options: { kind: 'action' | 'poll'; requestId?: string }): Promise<void> {
    const listedAt = new Date();
    const answer = await this.agents.call(await this.instances.target(server.id), 'listBackups', { kind: options.kind, requestId: options.requestId });
    await this.store.reconcile(server, answer.backups, listedAt);
  }

  private async ownerOf(serverId: string): Promise<string | null> {
    const instance = await this.instances.get(serverId, null, 'server').catch(() => null);
    return instance?.ownerId ?? null;
  }

  async tick(): Promise<void> {
    for (const serverId of await this.store.serversInProgress()) {
      const ownerId = await this.ownerOf(serverId);
      if (ownerId === null) continue;
      await this.syncServer({ id: serverId, ownerId }, { kind: 'poll' }).catch((err: unknown) => this.log.debug({ err, server_id: serverId }, 'could not reconcile backups; will retry'));
    }
    const failed = await this.store.failStale(this.settings.staleAfterMs, (id) => this.ownerOf(id));
    if (failed > 0) this.log.warn({ failed }, 'marked backups that never finished as failed');
    await this.store.dropAbandonedReservations(this.settings.abandonedAfterMs);
    await this.restores.watch();
  }
}
