import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import pg from 'pg';
import { freePort } from '../../src/lib/free-port.ts';
import type { ReplicaProcess } from '../../scripts/lib/replica-process.ts';
import { SimAgent } from '../../scripts/lib/streamspace-sim-agent.ts';
import { startFakeStripe } from '../fakes/fake-stripe.ts';
import { eventually } from '../helpers/agent-core.ts';
import { startReferenceAgent, type ReferenceAgent } from '../helpers/reference-agent.ts';
import { createPostgresDatabase } from '../helpers/test-database.ts';
import { crashEnv, prepare, startApi } from './crash-setup.ts';
import { backupsAndRestores, deliver, gameCreations, registrations, sessionCommands, webhooks } from './crash-workloads.ts';

/**
 * The API as a real process on PostgreSQL (both runs of the suite: the checker script and the
 * restarted process need a server), SIGKILLed in the middle of five bursts at once:
 * registrations, game-server creations, backups and restores, Stripe webhook deliveries and
 * StreamSpace session commands. Restarted on the same port (clients and the StreamSpace agent
 * keep their URL), it must keep every operation it acknowledged, finish or undo what it had
 * in flight, and leave data that `npm run check-invariants` passes.
 */
const run = promisify(execFile);

interface CheckerRun {
  code: number;
  stdout: string;
  summary: { ok: boolean; checked: number; invariants: Array<{ id: string; ok: boolean; offending: string[] }> };
}

/** `npm run check-invariants` as a child process, as an operator runs it; its last line is the JSON summary. */
async function checkInvariantsCli(url: string, env: NodeJS.ProcessEnv): Promise<CheckerRun> {
  const args = ['--import', 'tsx', 'scripts/check-invariants.ts', '--database-url', url, '--grace-seconds', '0'];
  const done = await run(process.execPath, args, { env }).then(
    (r) => ({ code: 0, stdout: r.stdout }),
    (err: { stdout: string; code: number }) => ({ code: err.code, stdout: err.stdout }),
  );
  return { ...done, summary: JSON.parse(done.stdout.trim().split('\n').at(-1) as string) as CheckerRun['summary'] };
}

test('SIGKILL mid-bursts: every acknowledged operation survives, work in flight settles after the restart, and check-invariants passes', async (t) => {
  const database = await createPostgresDatabase();
  const stripe = await startFakeStripe();
  const url = database.url as string;
  const env = crashEnv(url, stripe);
  const port = await freePort();
  let stderr = '';
  const agents: ReferenceAgent[] = [];
  let sim: SimAgent | null = null;
  let api: ReplicaProcess | null = null;
  const db = new pg.Client({ connectionString: url });
  const executed = new Map<string, number>();
  try {
    const [started] = await Promise.all([startApi(port, env, (s) => (stderr += s)), ...Array.from({ length: 4 }, async () => agents.push(await startReferenceAgent()))]);
    api = started;
    await db.connect();
    const setup = await prepare(api.url, stripe, agents, (key) => {
      sim = new SimAgent({
        url: `http://127.0.0.1:${port}`,
        agentId: 'crash-agent',
        key,
        platform: 'crash',
        autoReconnect: true,
        commandDelayMs: 400,
        maxSessions: 20,
        log: (line) => {
          const entry = JSON.parse(line) as { msg: string; session_id?: string; command_type?: string };
          if (entry.msg === 'command received' && entry.session_id) executed.set(`${entry.session_id} ${entry.command_type}`, (executed.get(`${entry.session_id} ${entry.command_type}`) ?? 0) + 1);
        },
      });
      return sim;
    });

    // The bursts, all at once; the kill comes once each has had something acknowledged.
    let dead = false;
    const stopped = () => dead;
    const regs = registrations(setup, stopped);
    const files = backupsAndRestores(setup, stopped);
    const hooks = webhooks(setup, stripe, stopped);
    const sessions = sessionCommands(setup, stopped);
    const running = { registrations: regs.tally, backups: files.backups, restores: files.restores, webhooks: hooks.tally, session_commands: sessions.tally };
    await eventually(async () => Object.values(running).every((x) => x.acked > 0), 30_000, 'every burst acknowledged something');
    // Creations last: the kill lands as the first is acknowledged, with its provisioning under way.
    const games = gameCreations(setup, stopped);
    const tallies = { ...running, game_creations: games.tally };
    await eventually(async () => games.tally.acked > 0, 10_000, 'a creation acknowledged');
    const inFlight = Object.fromEntries(Object.entries(tallies).map(([k, x]) => [k, x.inFlight]));
    process.kill(api.pid, 'SIGKILL');
    dead = true;
    await api.exited;
    const atKill = (
      await db.query<{ what: string; n: string }>(
        `SELECT 'instances ' || lifecycle AS what, count(*) AS n FROM instances WHERE lifecycle IN ('provisioning', 'restoring_backup', 'deleting') GROUP BY lifecycle
       UNION ALL SELECT 'backups in progress', count(*) FROM game_backups WHERE state = 'in_progress'
       UNION ALL SELECT 'sessions ' || state, count(*) FROM streamspace_sessions WHERE state IN ('pending', 'hibernating', 'waking', 'terminating') GROUP BY state
       UNION ALL SELECT 'commands ' || status, count(*) FROM streamspace_commands WHERE status IN ('pending', 'sent', 'acknowledged') GROUP BY status`,
      )
    ).rows;
    await Promise.all([regs.done, games.done, files.done, hooks.done, sessions.done]);
    t.log('in flight at the kill (requests):', JSON.stringify(inFlight));
    t.log('in flight at the kill (rows):', atKill.map((r) => `${r.what}: ${r.n}`).join(', '));

    const restartAt = Date.now();
    api = await startApi(port, env, (s) => (stderr += s));
    // What the cut requests left: committed before the kill (found) or not (nothing, retried below).
    const cutEventsFound = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM billing_events WHERE id = ANY($1)', [hooks.tally.cutKeys])).rows[0]?.n);
    const cutServersFound = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM instances WHERE name = ANY($1)', [games.tally.cutKeys])).rows[0]?.n);
    // Stripe retries what was not acknowledged with a 2xx; the retries must be taken once.
    const unacked = [...hooks.events.keys()].filter((id) => !hooks.tally.ackedKeys.includes(id));
    for (const id of unacked) t.is((await deliver(api.url, stripe, hooks.events.get(id) as Record<string, unknown>)).status, 200, `redelivered ${id}`);

    const settled = async () => {
      const open = await db.query<{ n: string }>(
        `SELECT (SELECT count(*) FROM instances WHERE lifecycle IN ('provisioning', 'restoring_backup', 'deleting'))
              + (SELECT count(*) FROM game_restores) + (SELECT count(*) FROM game_backups WHERE state = 'in_progress')
              + (SELECT count(*) FROM streamspace_sessions WHERE state IN ('pending', 'hibernating', 'waking', 'terminating'))
              + (SELECT count(*) FROM streamspace_commands WHERE status IN ('pending', 'sent', 'acknowledged')) AS n`,
      );
      return Number(open.rows[0]?.n) === 0;
    };
    await eventually(settled, 60_000, 'the work in flight at the kill to settle');
    const settleS = (Date.now() - restartAt) / 1000;

    // Acknowledged means kept.
    const users = new Set((await db.query<{ username: string }>(`SELECT username FROM users WHERE username LIKE 'crash-user-%'`)).rows.map((r) => r.username));
    for (const name of regs.tally.ackedKeys) t.true(users.has(name), `registered ${name} is there`);
    const servers = new Map((await db.query<{ id: string; lifecycle: string }>('SELECT id, lifecycle FROM instances')).rows.map((r) => [r.id, r.lifecycle]));
    for (const id of games.ids) t.true(['active', 'failed'].includes(servers.get(id) ?? 'missing'), `created server ${id} is ${servers.get(id)}`);
    t.is(servers.get(setup.serverId), 'active', 'the restored server is active again');
    const backupNames = new Set((await db.query<{ name: string }>('SELECT name FROM game_backups')).rows.map((r) => r.name));
    for (const key of files.backups.ackedKeys) t.true(backupNames.has(`crash-${key.slice('backup-'.length)}`), `${key} is recorded`);
    const events = (await db.query<{ id: string }>('SELECT id FROM billing_events')).rows.map((r) => r.id);
    t.deepEqual([...events].sort(), [...hooks.events.keys()].sort(), 'every event recorded once');
    for (const s of setup.subscribers) {
      const account = (await db.query<{ plan: string; status: string; subscription_id: string }>('SELECT plan, status, subscription_id FROM billing_accounts WHERE user_id = $1', [s.userId])).rows[0];
      const price = stripe.subscriptions.get(s.subscriptionId)?.items.data[0]?.price.id;
      t.deepEqual(account, { plan: price === 'price_pro' ? 'pro' : 'starter', status: 'active', subscription_id: s.subscriptionId }, 'the account is what Stripe says');
    }
    const liveSessions = (await db.query<{ id: string; state: string }>('SELECT id, state FROM streamspace_sessions')).rows;
    for (const id of sessions.ids)
      t.true(
        liveSessions.some((s) => s.id === id),
        `session ${id} is there`,
      );
    // The agent ran each session's start once, and runs exactly the sessions the panel shows running or hibernated.
    t.deepEqual(
      [...executed].filter(([, n]) => n > 1),
      [],
      'no command ran twice on the agent',
    );
    const onAgent = (sim as SimAgent | null)?.sessions ?? new Map();
    t.deepEqual(
      liveSessions
        .filter((s) => s.state === 'running' || s.state === 'hibernated')
        .map((s) => `${s.id} ${s.state}`)
        .sort(),
      [...onAgent].map(([id, info]) => `${id} ${info.state}`).sort(),
      'the agent and the panel agree on every session',
    );

    const checked = await checkInvariantsCli(url, env);
    t.is(checked.code, 0, checked.stdout);
    t.true(checked.summary.ok, checked.stdout);
    // The same checker, as an operator runs it, on a row corrupted on purpose: exit 1, the row named.
    const victim = (
      await db.query<{ id: string }>(`UPDATE instances SET agent_base_url = NULL WHERE lifecycle = 'active' AND id = (SELECT id FROM instances WHERE lifecycle = 'active' LIMIT 1) RETURNING id`)
    ).rows[0]?.id as string;
    const corrupt = await checkInvariantsCli(url, env);
    t.is(corrupt.code, 1);
    t.regex(corrupt.stdout, new RegExp(`FAIL core\\.instance-half-created[^\\n]*\\n[^\\n]*${victim}`));
    t.deepEqual(
      corrupt.summary.invariants.filter((i) => !i.ok),
      [{ id: 'core.instance-half-created', ok: false, offending: [victim] }],
    );
    const summary = checked.summary;
    t.log(
      `acknowledged vs found: ${Object.entries(tallies)
        .map(([k, x]) => `${k} ${x.acked} acked, ${x.cut} cut`)
        .join(
          '; ',
        )}; found after the restart: ${users.size} users, ${cutServersFound} of the cut creations, ${cutEventsFound} of the cut webhooks (before their retry); settled ${settleS.toFixed(1)} s after the restart; ${summary.checked} invariants pass`,
    );
  } catch (err) {
    t.log(stderr.slice(-4000));
    throw err;
  } finally {
    await (sim as SimAgent | null)?.stop();
    await api?.stop();
    await db.end().catch(() => undefined);
    await Promise.all(agents.map((a) => a.stop()));
    await stripe.close();
    await database.drop();
  }
});
