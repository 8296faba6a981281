import type { Knex } from 'knex';
import { z } from 'zod';
import { backupUpdated, ConflictError, NotFoundError, type AgentBackup, type Events } from '../../src/plugin-api/index.ts';

/** API.md's Backup: the API's own shape on every success answer, whatever the agent's body looked like. */
export const backupSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    state: z.enum(['in_progress', 'completed', 'failed']),
    size_bytes: z.number().int().nullable(),
    sha256: z.string().nullable(),
    locked: z.boolean(),
    created_at: z.iso.datetime(),
    completed_at: z.iso.datetime().nullable(),
  })
  .meta({ id: 'Backup' });
export type Backup = z.infer<typeof backupSchema>;

export interface BackupRow {
  id: string;
  server_id: string;
  agent_backup_id: string | null;
  name: string;
  state: Backup['state'];
  locked: boolean;
  size_bytes: string | number | null;
  sha256: string | null;
  error: string | null;
  created_at: Date;
  completed_at: Date | null;
  updated_at: Date;
}

const iso = (d: Date | string | null): string | null => (d === null ? null : new Date(d).toISOString());

export function toBackup(row: BackupRow): Backup {
  return {
    id: row.id,
    name: row.name,
    state: row.state,
    size_bytes: row.size_bytes === null ? null : Number(row.size_bytes),
    sha256: row.sha256,
    locked: row.locked,
    created_at: iso(row.created_at) as string,
    completed_at: iso(row.completed_at),
  };
}

/** The agent's view of a backup, as columns. */
const fromAgent = (b: AgentBackup) => ({
  state: b.state,
  size_bytes: b.size_bytes,
  sha256: b.sha256,
  completed_at: b.completed_at === null ? null : new Date(b.completed_at),
});

const differs = (row: BackupRow, b: AgentBackup): boolean =>
  row.state !== b.state || (row.size_bytes === null ? null : Number(row.size_bytes)) !== b.size_bytes || row.sha256 !== b.sha256 || iso(row.completed_at) !== iso(b.completed_at);

export interface ServerRef {
  id: string;
  ownerId: string;
}

/**
 * The game plugin's backup records: the agent keeps the archives, the API keeps what the
 * portal shows (name, locked flag, state, size, checksum), reconciled with the agent's list.
 * Every change publishes `backup.updated` in the transaction that makes it.
 */
export class BackupStore {
  constructor(
    private readonly db: Knex,
    private readonly events: Events,
  ) {}

  private async announce(server: ServerRef, row: BackupRow, trx: Knex.Transaction, deleted = false): Promise<void> {
    await this.events.publish(backupUpdated, server.ownerId, { server_id: server.id, backup: toBackup(row), deleted }, trx);
  }

  async list(serverId: string): Promise<BackupRow[]> {
    return this.db<BackupRow>('game_backups').where({ server_id: serverId }).orderBy('created_at', 'desc').orderBy('id');
  }

  async get(serverId: string, id: string): Promise<BackupRow> {
    const row = await this.db<BackupRow>('game_backups').where({ server_id: serverId, id }).first();
    if (!row) throw new NotFoundError('backup', id);
    return row;
  }

  /**
   * Holds a place against the server's backup limit before the agent is asked, under a
   * per-server lock, so concurrent requests cannot overshoot it. Failed backups do not count.
   */
  async reserve(server: ServerRef, name: string, locked: boolean, limit: number): Promise<BackupRow> {
    return this.db.transaction(async (trx) => {
      await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`game_backups:${server.id}`]);
      const counted = await trx('game_backups').where({ server_id: server.id }).whereNot({ state: 'failed' }).count<Array<{ n: string | number }>>('* as n');
      const used = Number(counted[0]?.n ?? 0);
      if (used >= limit) throw new ConflictError('BACKUP_LIMIT_REACHED', `This server keeps at most ${limit} backups and has ${used}; delete one (unlock it first if it is locked)`, { limit, used });
      const [row] = await trx('game_backups').insert({ server_id: server.id, name, locked, state: 'in_progress' }).returning<BackupRow[]>('*');
      if (!row) throw new Error('INSERT ... RETURNING gave no row');
      return row;
    });
  }

  /** The agent took the backup: the reservation becomes its record (or merges into one a reconcile adopted meanwhile). */
  async accept(server: ServerRef, reservationId: string, agent: AgentBackup): Promise<BackupRow> {
    return this.db.transaction(async (trx) => {
      const adopted = await trx<BackupRow>('game_backups').where({ server_id: server.id, agent_backup_id: agent.id }).first();
      const reservation = await trx<BackupRow>('game_backups').where({ id: reservationId }).first();
      let row: BackupRow;
      if (adopted) {
        await trx('game_backups').where({ id: reservationId }).delete();
        [row] = (await trx('game_backups')
          .where({ id: adopted.id })
          .update({ name: reservation?.name ?? adopted.name, locked: reservation?.locked ?? adopted.locked, updated_at: trx.fn.now() })
          .returning<BackupRow[]>('*')) as [BackupRow];
      } else {
        [row] = (await trx('game_backups')
          .where({ id: reservationId })
          .update({ agent_backup_id: agent.id, ...fromAgent(agent), updated_at: trx.fn.now() })
          .returning<BackupRow[]>('*')) as [BackupRow];
      }
      await this.announce(server, row, trx);
      return row;
    });
  }

  /** The agent refused: the reservation goes. */
  async release(reservationId: string): Promise<void> {
    await this.db('game_backups').where({ id: reservationId }).whereNull('agent_backup_id').delete();
  }

  async setLocked(server: ServerRef, id: string, locked: boolean): Promise<BackupRow> {
    return this.db.transaction(async (trx) => {
      const [row] = await trx('game_backups').where({ server_id: server.id, id }).update({ locked, updated_at: trx.fn.now() }).returning<BackupRow[]>('*');
      if (!row) throw new NotFoundError('backup', id);
      await this.announce(server, row, trx);
      return row;
    });
  }

  async remove(server: ServerRef, row: BackupRow): Promise<void> {
    await this.db.transaction(async (trx) => {
      const deleted = await trx('game_backups').where({ id: row.id }).delete();
      if (deleted > 0) await this.announce(server, row, trx, true);
    });
  }

  /**
   * Brings the records in line with the agent's list, fetched at `listedAt`: finished backups
   * get their size and checksum, backups the agent has that we lack are adopted, and records
   * the agent no longer has become `failed`. Records changed after `listedAt` are left for the
   * next pass, so a backup accepted during the fetch is not mistaken for a lost one.
   */
  async reconcile(server: ServerRef, agentBackups: readonly AgentBackup[], listedAt: Date): Promise<void> {
    await this.db.transaction(async (trx) => {
      const rows = await trx<BackupRow>('game_backups').where({ server_id: server.id });
      const byAgentId = new Map(rows.filter((r) => r.agent_backup_id !== null).map((r) => [r.agent_backup_id as string, r]));
      const listed = new Set<string>();
      for (const b of agentBackups) {
        listed.add(b.id);
        const row = byAgentId.get(b.id);
        if (!row) {
          const [adopted] = await trx('game_backups')
            .insert({ server_id: server.id, agent_backup_id: b.id, name: b.name.slice(0, 100), created_at: new Date(b.created_at), ...fromAgent(b) })
            .onConflict(['server_id', 'agent_backup_id'])
            .ignore()
            .returning<BackupRow[]>('*');
          if (adopted) await this.announce(server, adopted, trx);
        } else if (row.state === 'failed' && b.state !== 'completed') {
          // Given up on (too old, or lost): only a real completion brings it back.
          continue;
        } else if (differs(row, b)) {
          const [updated] = await trx('game_backups')
            .where({ id: row.id })
            .update({ ...fromAgent(b), updated_at: trx.fn.now() })
            .returning<BackupRow[]>('*');
          await this.announce(server, updated as BackupRow, trx);
        }
      }
      for (const row of rows) {
        if (row.agent_backup_id === null || listed.has(row.agent_backup_id) || row.state === 'failed') continue;
        if (new Date(row.updated_at) >= listedAt) continue;
        const [lost] = await trx('game_backups').where({ id: row.id }).update({ state: 'failed', error: 'the agent no longer has this backup', updated_at: trx.fn.now() }).returning<BackupRow[]>('*');
        await this.announce(server, lost as BackupRow, trx);
      }
    });
  }

  /** Servers with backups still in progress: the ones the reconciler asks their agent about. */
  async serversInProgress(): Promise<string[]> {
    const rows = await this.db('game_backups').where({ state: 'in_progress' }).whereNotNull('agent_backup_id').distinct<Array<{ server_id: string }>>('server_id');
    return rows.map((r) => r.server_id);
  }

  /** In-progress backups older than `ms` never finished: marked failed. Returns how many. */
  async failStale(ms: number, ownerOf: (serverId: string) => Promise<string | null>): Promise<number> {
    const stale = await this.db<BackupRow>('game_backups')
      .where({ state: 'in_progress' })
      .whereNotNull('agent_backup_id')
      .where('created_at', '<', new Date(Date.now() - ms));
    for (const row of stale) {
      const ownerId = await ownerOf(row.server_id);
      if (ownerId === null) continue;
      await this.db.transaction(async (trx) => {
        const [failed] = await trx('game_backups')
          .where({ id: row.id, state: 'in_progress' })
          .update({ state: 'failed', error: 'did not finish in time', completed_at: trx.fn.now(), updated_at: trx.fn.now() })
          .returning<BackupRow[]>('*');
        if (failed) await this.announce({ id: row.server_id, ownerId }, failed, trx);
      });
    }
    return stale.length;
  }

  /** Reservations whose request died before the agent answered (a crash): nothing holds them any more. */
  async dropAbandonedReservations(olderThanMs: number): Promise<number> {
    return this.db('game_backups')
      .whereNull('agent_backup_id')
      .where('created_at', '<', new Date(Date.now() - olderThanMs))
      .delete();
  }
}
