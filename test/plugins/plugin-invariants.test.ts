import test from 'ava';
import type { Knex } from 'knex';
import { loadConfig } from '../../src/config/load.ts';
import { Plans } from '../../src/core/billing/plans.ts';
import { checkInvariants, formatInvariantReport } from '../../src/core/invariants/check-invariants.ts';
import { panelInvariants } from '../../src/core/invariants/panel-invariants.ts';
import { preparePlugins } from '../../src/core/plugin-host/plugin-host.ts';
import { shippedPlugins } from '../../plugins/index.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.ts';
import { ago, emptyTables, plantInstance, plantUser } from '../core/invariants/plant.ts';

/** The invariants plugins contribute (StreamSpace's command log, the game plugin's restores, the dev plugin's vmids) each find a planted row. */
const config = loadConfig({ env: {} });
const invariants = panelInvariants(new Plans(config.billing.plans, config.billing.default_plan), preparePlugins(shippedPlugins, config.plugins.enabled, config.plugins.config));
const minute = 60_000;
let database: TestDatabase | null = null;
test.after.always(async () => {
  await database?.drop();
});

/** The file's database, emptied: the tests run one after another on it. */
async function fresh(): Promise<Knex> {
  database ??= await createTestDatabase();
  await emptyTables(database.database.knex);
  return database.database.knex;
}

async function failing(db: Knex): Promise<{ ids: string[]; offending: Map<string, string[]>; report: string }> {
  const results = await checkInvariants(invariants, { db, graceMs: minute });
  const failed = results.filter((r) => !r.ok);
  return { ids: failed.map((r) => r.id), offending: new Map(failed.map((r) => [r.id, [...r.offending].sort()])), report: formatInvariantReport(results) };
}

async function plantSession(db: Knex, userId: string, state: string, updatedAgo = 5 * minute): Promise<string> {
  const name = `s-${Math.random().toString(36).slice(2, 10)}`;
  const [row] = await db('streamspace_sessions')
    .insert({
      name,
      namespace: 'streamspace',
      user_id: userId,
      template: 't',
      platform: 'p',
      agent_id: 'agent-1',
      state,
      resources: '{}',
      persistent_home: false,
      idle_timeout: '30m',
      idle_timeout_s: 1800,
      tags: '[]',
      status: '{}',
      platform_metadata: '{}',
      updated_at: ago(db, updatedAgo),
    })
    .returning<Array<{ id: string }>>('id');
  return (row as { id: string }).id;
}

let commandNo = 0;
async function plantCommand(db: Knex, sessionId: string, type: string, status: string): Promise<void> {
  commandNo += 1;
  await db('streamspace_commands').insert({ command_id: `cmd-${commandNo}`, agent_id: 'agent-1', session_id: sessionId, command_type: type, data: '{}', status });
}

test.serial('streamspace.session-command-lost: a session in transition with no open command, past the grace', async (t) => {
  const db = await fresh();
  const user = await plantUser(db);
  const lost = await plantSession(db, user, 'waking');
  await plantCommand(db, lost, 'start_session', 'completed');
  await plantCommand(db, lost, 'wake_session', 'completed');
  const inFlight = await plantSession(db, user, 'hibernating');
  await plantCommand(db, inFlight, 'start_session', 'completed');
  await plantCommand(db, inFlight, 'hibernate_session', 'sent');
  const fresher = await plantSession(db, user, 'pending', 1000);
  t.truthy(fresher);
  const { ids, offending, report } = await failing(db);
  t.deepEqual(ids, ['streamspace.session-command-lost'], report);
  t.deepEqual(offending.get('streamspace.session-command-lost'), [lost]);
});

test.serial('streamspace.command-applied-twice: two starts for one session, or two moves in flight at once', async (t) => {
  const db = await fresh();
  const user = await plantUser(db);
  const twoStarts = await plantSession(db, user, 'running');
  await plantCommand(db, twoStarts, 'start_session', 'completed');
  await plantCommand(db, twoStarts, 'start_session', 'completed');
  const twoOpen = await plantSession(db, user, 'hibernating');
  await plantCommand(db, twoOpen, 'start_session', 'completed');
  await plantCommand(db, twoOpen, 'hibernate_session', 'acknowledged');
  await plantCommand(db, twoOpen, 'stop_session', 'pending');
  // Logs requests beside a move are fine.
  const withLogs = await plantSession(db, user, 'terminating');
  await plantCommand(db, withLogs, 'start_session', 'completed');
  await plantCommand(db, withLogs, 'stop_session', 'sent');
  await plantCommand(db, withLogs, 'get_session_logs', 'sent');
  const { ids, offending, report } = await failing(db);
  t.deepEqual(ids, ['streamspace.command-applied-twice'], report);
  t.deepEqual(offending.get('streamspace.command-applied-twice'), [twoStarts, twoOpen].sort());
});

test.serial('game.restore-without-record: a server restoring with no restore record, and a record whose server is not restoring', async (t) => {
  const db = await fresh();
  const user = await plantUser(db);
  // Another owner, so three servers stay within the free plan's two.
  const stuck = await plantInstance(db, await plantUser(db), { lifecycle: 'restoring_backup', updated_at: ago(db, 5 * minute) });
  const held = await plantInstance(db, user, { lifecycle: 'restoring_backup', updated_at: ago(db, 5 * minute) });
  const stale = await plantInstance(db, user, { updated_at: ago(db, 5 * minute) });
  for (const server of [held, stale]) {
    const [backup] = await db('game_backups').insert({ server_id: server, agent_backup_id: 'b1', name: 'b', state: 'completed' }).returning<Array<{ id: string }>>('id');
    await db('game_restores').insert({ server_id: server, backup_id: (backup as { id: string }).id, agent_backup_id: 'b1', started_at: ago(db, 5 * minute) });
  }
  const { ids, offending, report } = await failing(db);
  t.deepEqual(ids, ['game.restore-without-record'], report);
  t.deepEqual(offending.get('game.restore-without-record'), [stuck, stale].sort());
});

test.serial('dev.container-without-vmid: a dev container whose vmid row is missing', async (t) => {
  const db = await fresh();
  const user = await plantUser(db);
  await plantInstance(db, user, { kind: 'dev', plugin: 'dev' });
  const half = await plantInstance(db, user, { kind: 'dev', plugin: 'dev' });
  await db('dev_containers').where({ instance_id: half }).delete();
  const { ids, offending, report } = await failing(db);
  t.deepEqual(ids, ['dev.container-without-vmid'], report);
  t.deepEqual(offending.get('dev.container-without-vmid'), [half]);
});
