import { defineInvariant, type Invariant } from '../../src/plugin-api/index.ts';

/**
 * A restore holds its server in `restoring_backup` for as long as its `game_restores` record
 * lives (restores.ts): the record is written first, and the lifecycle goes back to `active`
 * before the record is dropped only by the reconcile pass. A crash between the two writes of
 * a start leaves one without the other for at most `accept_window`, until that pass settles it.
 */
const restoreWithoutRecord = defineInvariant({
  id: 'game.restore-without-record',
  title: 'every game server restoring a backup has its restore record, and every record its restoring server',
  explanation:
    'A server in restoring_backup refuses power and console until its restore ends; without a record nothing ends it. A record whose server is not restoring would block the next restore ("a restore is already running").',
  remedy:
    'Keep an API replica running with the game plugin: game.backups-reconcile (every 5 s) sets record-less servers active and drops stale records. If rows stay, set the server active by restoring again or deleting it, and report it.',
  async offending({ db, graceMs }) {
    const since = db.raw(`now() - ?::interval`, [`${graceMs} milliseconds`]);
    const servers = await db('instances as i')
      .where({ 'i.plugin': 'game', 'i.lifecycle': 'restoring_backup' })
      .where('i.updated_at', '<', since)
      .whereNotExists(db('game_restores as r').whereRaw('r.server_id = i.id'))
      .select<Array<{ id: string }>>('i.id');
    const records = await db('game_restores as r')
      .join('instances as i', 'i.id', 'r.server_id')
      .whereNot('i.lifecycle', 'restoring_backup')
      .where('r.started_at', '<', since)
      .where('i.updated_at', '<', since)
      .select<Array<{ id: string }>>('r.server_id as id');
    return [...servers, ...records].map((r) => r.id);
  },
});

/** The game plugin's invariants, for `npm run check-invariants`. */
export const gameInvariants: readonly Invariant[] = [restoreWithoutRecord];
