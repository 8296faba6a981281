import type { Knex } from 'knex';
import { backupUpdated, AppError, ConflictError, type Agents, type AgentStatus, type Events, type Instances, type Logger } from '../../src/plugin-api/index.ts';
import { toBackup, type BackupRow, type ServerRef } from './backup-store.ts';

interface RestoreRow {
  server_id: string;
  backup_id: string;
  agent_backup_id: string;
  started_at: Date;
  accepted_at: Date | null;
}

export type RestoreOutcome = 'completed' | 'failed' | 'timed_out' | 'not_started';

export interface RestoreSettings {
  /** Given up after this: lifecycle back to `active` with a reason. */
  timeoutMs: number;
  /** How long a restore request may be in flight before "never accepted" means it was lost. */
  acceptWindowMs: number;
}

/** Allowance for the agent's clock when matching its `last_restore` to ours. */
const clockSkewMs = 60_000;

/**
 * Restores in flight. A restore holds the server in `restoring_backup` (so power and console
 * are refused) until the agent reports it done or failed; the record lives in the database,
 * so an API restart mid-restore picks up where it was and never leaves the server stuck.
 */
export class Restores {
  constructor(
    private readonly db: Knex,
    private readonly instances: Instances,
    private readonly agents: Agents,
    private readonly events: Events,
    private readonly settings: RestoreSettings,
    private readonly log: Logger,
  ) {}

  async begin(server: ServerRef, backup: BackupRow, requestId: string): Promise<void> {
    if (backup.state !== 'completed' || backup.agent_backup_id === null) {
      throw new ConflictError('BACKUP_NOT_RESTORABLE', `This backup is ${backup.state}; only a completed backup can be restored`, { state: backup.state });
    }
    const inserted = await this.db('game_restores')
      .insert({ server_id: server.id, backup_id: backup.id, agent_backup_id: backup.agent_backup_id })
      .onConflict('server_id')
      .ignore()
      .returning('server_id');
    if (inserted.length === 0) throw new ConflictError('INSTANCE_NOT_ACTIVE', 'A restore is already running on this server; wait until it is active and retry', { lifecycle: 'restoring_backup' });
    if (!(await this.instances.setLifecycle(server.id, 'restoring_backup', null, ['active']))) {
      await this.db('game_restores').where({ server_id: server.id }).delete();
      const now = await this.instances.get(server.id, null, 'server');
      throw new ConflictError('INSTANCE_NOT_ACTIVE', `This server is ${now.state.lifecycle}; wait until it is active and retry`, { lifecycle: now.state.lifecycle });
    }
    try {
      await this.agents.call(await this.instances.target(server.id), 'restoreBackup', { requestId, query: { id: backup.agent_backup_id } });
    } catch (err) {
      await this.finish(server, 'not_started', null);
      throw err;
    }
    await this.db('game_restores').where({ server_id: server.id }).update({ accepted_at: this.db.fn.now() });
    await this.instances.confirmAction(server.id);
  }

  /** Ends a restore either way: the server is `active` again (with a reason when it did not complete) and the portal is told. */
  private async finish(server: ServerRef, outcome: RestoreOutcome, error: string | null): Promise<void> {
    const row = await this.db<RestoreRow>('game_restores').where({ server_id: server.id }).first();
    const backup = row ? await this.db<BackupRow>('game_backups').where({ id: row.backup_id }).first() : undefined;
    const reason = outcome === 'completed' || outcome === 'not_started' ? null : `restore ${outcome === 'timed_out' ? 'timed out' : 'failed'}${error ? `: ${error}` : ''}`;
    // The server first, then the record: a process that dies between the two leaves a record of
    // a settled server, which the next pass drops; the other order left a server restoring with
    // no record, which only unstick() freed, an accept window later.
    await this.instances.setLifecycle(server.id, 'active', reason, ['restoring_backup']);
    await this.db('game_restores').where({ server_id: server.id }).delete();
    if (backup && outcome !== 'not_started') {
      await this.events.publish(backupUpdated, server.ownerId, { server_id: server.id, backup: toBackup(backup), restore: { state: outcome, error } });
    }
    this.log.info({ server_id: server.id, outcome, error }, 'restore finished');
    await this.instances.confirmAction(server.id);
  }

  /** One pass over the restores in flight (the reconcile job runs it). */
  async watch(): Promise<void> {
    const rows = await this.db<RestoreRow>('game_restores').select('*');
    for (const row of rows) {
      await this.check(row).catch((err: unknown) => this.log.warn({ err, server_id: row.server_id }, 'could not check a restore; will retry'));
    }
    await this.unstick();
  }

  private async check(row: RestoreRow): Promise<void> {
    // Only "not found" means deleted; any other failure (the database away) throws, and the
    // record is kept for the next pass.
    const instance = await this.instances.get(row.server_id, null, 'server').catch((err: unknown) => {
      if (err instanceof AppError && err.status === 404) return null;
      throw err;
    });
    if (!instance || instance.state.lifecycle !== 'restoring_backup') {
      // Deleted meanwhile, or already settled: nothing to hold.
      await this.db('game_restores').where({ server_id: row.server_id }).delete();
      return;
    }
    const server = { id: row.server_id, ownerId: instance.ownerId };
    const age = Date.now() - new Date(row.started_at).getTime();
    let status: AgentStatus;
    try {
      status = await this.agents.call(await this.instances.target(row.server_id), 'status', { kind: 'poll' });
    } catch (err) {
      if (age > this.settings.timeoutMs) await this.finish(server, 'timed_out', 'the agent could not be asked how the restore went');
      else this.log.debug({ err, server_id: row.server_id }, 'agent not answering during a restore');
      return;
    }
    const backup = status.backup;
    if (backup?.in_progress === row.agent_backup_id) {
      if (row.accepted_at === null) await this.db('game_restores').where({ server_id: row.server_id }).update({ accepted_at: this.db.fn.now() });
      if (age > this.settings.timeoutMs) await this.finish(server, 'timed_out', null);
      return;
    }
    const last = backup?.last_restore;
    const ours = last !== undefined && last !== null && last.id === row.agent_backup_id && Date.parse(last.finished_at) >= new Date(row.started_at).getTime() - clockSkewMs;
    if (row.accepted_at === null) {
      // The agent took it and finished before its acceptance was recorded (the API died right
      // after the agent answered): its report is the outcome, not "never started" a window later.
      if (ours) return this.finish(server, last.state, last.error ?? null);
      // The request may still be on its way; past the window it was lost (the API restarted mid-request).
      if (age > this.settings.acceptWindowMs) await this.finish(server, 'not_started', null);
      return;
    }
    if (last === undefined) return this.finish(server, 'completed', null); // an agent without the outcome report
    if (ours) await this.finish(server, last.state, last.error ?? null);
    else await this.finish(server, 'failed', 'the agent lost the restore (was it restarted?)');
  }

  /** A game server in `restoring_backup` with no restore record (a crash between the two writes) goes back to `active`. */
  private async unstick(): Promise<void> {
    const { items } = await this.instances.list({ plugin: 'game', lifecycle: 'restoring_backup', page: 1, limit: 100 });
    const cutoff = Date.now() - this.settings.acceptWindowMs;
    const candidates = items.filter((i) => Date.parse(i.updatedAt) < cutoff).map((i) => i.id);
    if (candidates.length === 0) return;
    const held = new Set((await this.db('game_restores').whereIn('server_id', candidates).select<Array<{ server_id: string }>>('server_id')).map((r) => r.server_id));
    for (const id of candidates.filter((c) => !held.has(c))) {
      await this.instances.setLifecycle(id, 'active', 'restore state was lost; check your data', ['restoring_backup']);
      this.log.warn({ server_id: id }, 'a server was left restoring with no restore record; set it active');
    }
  }
}
