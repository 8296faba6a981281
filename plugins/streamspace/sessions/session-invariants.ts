import { defineInvariant, type Invariant } from '../../../src/plugin-api/index.ts';

/** The commands that move a session (logs requests do not). */
const stateCommands = ['start_session', 'hibernate_session', 'wake_session', 'stop_session'];
const open = ['pending', 'sent', 'acknowledged'];
const marks = (list: readonly unknown[]): string => list.map(() => '?').join(', ');

/**
 * A session enters a transitional state in the transaction that writes the command to move it
 * on, and the command's end moves it in the transaction that ends the command; so a session in
 * transition always has its command open, unless the reconciler (every 30 s, after
 * `stuck_after_ms`) has yet to notice it lost.
 */
const sessionCommandLost = defineInvariant({
  id: 'streamspace.session-command-lost',
  title: 'every StreamSpace session in transition has a command in flight',
  explanation:
    'A pending, hibernating, waking or terminating session waits for the result of its command. With no open command, nothing will ever move it: the command was lost (never written, or ended without moving the session).',
  remedy:
    'Keep an API replica running: the streamspace.reconcile job moves such sessions on after stuck_after_ms (as if the command timed out). If they stay, force-terminate them (DELETE /api/v1/sessions/:id?force=true).',
  async offending({ db, graceMs }) {
    const rows = await db('streamspace_sessions as s')
      .whereIn('s.state', ['pending', 'hibernating', 'waking', 'terminating'])
      .where('s.updated_at', '<', db.raw(`now() - ?::interval`, [`${graceMs} milliseconds`]))
      .whereNotExists(db('streamspace_commands as c').whereRaw('c.session_id = s.id').whereIn('c.status', open))
      .orderBy('s.created_at')
      .select<Array<{ id: string }>>('s.id');
    return rows.map((r) => r.id);
  },
});

/**
 * Exactly one start is ever written per session (with the session), and each later move is a
 * compare-and-set of the session's state that writes one command (a forced end first
 * supersedes the open ones). Two starts, or two moves open at once, would run on the agent twice.
 */
const commandTwice = defineInvariant({
  id: 'streamspace.command-applied-twice',
  title: 'every StreamSpace session has one start command and at most one state change in flight',
  explanation:
    'The agent would be told to start the same session twice, or to act on two conflicting moves; the second result would be applied to a session that already moved. The command log is the record of what the agent was asked, so duplicates there are duplicates on the agent.',
  remedy:
    'Force-terminate the session (DELETE /api/v1/sessions/:id?force=true: its open commands are superseded and one stop is sent), and report the rows of GET /api/v1/sessions/:id with its commands.',
  async offending({ db }) {
    const rows = await db.raw<{ rows: Array<{ session_id: string }> }>(
      `SELECT session_id FROM streamspace_commands
        WHERE session_id IS NOT NULL AND command_type IN (${marks(stateCommands)})
        GROUP BY session_id
       HAVING count(*) FILTER (WHERE command_type = 'start_session') > 1
           OR count(*) FILTER (WHERE status IN (${marks(open)})) > 1
        ORDER BY session_id`,
      [...stateCommands, ...open],
    );
    return rows.rows.map((r) => r.session_id);
  },
});

/** StreamSpace's invariants, for `npm run check-invariants` (plugin definition `invariants`). */
export const streamspaceInvariants: readonly Invariant[] = [sessionCommandLost, commandTwice];
