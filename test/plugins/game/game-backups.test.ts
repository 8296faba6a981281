import test from 'ava';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { createUser, loginAdmin, type Session } from '../../helpers/auth.ts';
import { eventually, registerAgent } from '../../helpers/agent-core.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-database.ts';
import { startFakeAgents, type FakeAgents } from '../../fakes/fake-agents.ts';
import type { Backup } from '../../../plugins/game/backup-store.ts';
import { call, createServer, gameTestConfig, startGameApp, waitForServer } from './game-helpers.ts';
import { runJob } from '../../helpers/run-job.ts';

/** Backup bookkeeping: limits, throttle, locks, records the agent lost, restores across an API restart, plan limits. */
let db: TestDatabase;
let app: TestApp;
let fakes: FakeAgents;
let admin: Session;

const templates = {
  templates: {
    sample: { display_name: 'Sample', backup_limit: 5 },
    tiny: { display_name: 'Tiny', backup_limit: 1 },
  },
};
const config = gameTestConfig(
  'static',
  { billing: { plans: [{ id: 'free', name: 'Free', price_id: null, amount: 0, currency: 'usd', limits: { game_servers: 3, dev_containers: 2, backups_per_server: 100 } }], default_plan: 'free' } },
  templates,
);

test.before(async () => {
  db = await createTestDatabase();
  fakes = await startFakeAgents();
  app = await startGameApp(config, db);
  admin = await loginAdmin(app);
});

test.after.always(async () => {
  await app?.close();
  await fakes?.close();
  await db?.drop();
});

async function activeServer(user: Session, template = 'sample', timing: { restoreMs?: number; backupMs?: number } = {}): Promise<{ id: string; agent: string }> {
  const { id: agent } = await registerAgent(app, admin, fakes, timing);
  const server = await createServer(app, user, `Server on ${agent}`, template);
  await waitForServer(app, user, server.id, (s) => s.state.lifecycle === 'active', 'active', 15_000);
  return { id: server.id, agent };
}

test.serial("the template's backup limit answers 409 BACKUP_LIMIT_REACHED; 2 backups per 10 minutes per server answer 429", async (t) => {
  const user = await createUser(app, admin);
  const tiny = await activeServer(user, 'tiny');
  t.is((await call(app, user, 'POST', `/api/game/servers/${tiny.id}/backups`, {})).status, 202);
  const full = await call(app, user, 'POST', `/api/game/servers/${tiny.id}/backups`, {});
  t.is(full.status, 409);
  t.like(full.body, { code: 'BACKUP_LIMIT_REACHED', details: { limit: 1, used: 1 } });

  const roomy = await activeServer(user);
  t.is((await call(app, user, 'POST', `/api/game/servers/${roomy.id}/backups`, { name: 'one' })).status, 202);
  t.is((await call(app, user, 'POST', `/api/game/servers/${roomy.id}/backups`, { name: 'two' })).status, 202);
  const third = await call(app, user, 'POST', `/api/game/servers/${roomy.id}/backups`, { name: 'three' });
  t.is(third.status, 429);
  t.is(third.body.code, 'RATE_LIMIT_EXCEEDED');
  t.deepEqual(((await call(app, user, 'GET', `/api/game/servers/${roomy.id}/backups`)).body.backups as Backup[]).map((b) => b.name).sort(), ['one', 'two']);
});

test.serial('locked backups cannot be deleted until unlocked; a backup the agent lost is still removed; deleting the server removes locked ones', async (t) => {
  const user = await createUser(app, admin);
  const server = await activeServer(user);
  const locked = (await call(app, user, 'POST', `/api/game/servers/${server.id}/backups`, { name: 'keep', locked: true })).body.backup as Backup;
  const refused = await call(app, user, 'DELETE', `/api/game/servers/${server.id}/backups/${locked.id}`);
  t.is(refused.status, 409);
  t.is(refused.body.code, 'BACKUP_LOCKED');
  const unlocked = await call(app, user, 'PATCH', `/api/game/servers/${server.id}/backups/${locked.id}`, { locked: false });
  t.is(unlocked.status, 200);
  t.like(unlocked.body.backup, { id: locked.id, locked: false, name: 'keep' });

  // The agent's disk was wiped: its DELETE answers 404, and the record goes anyway.
  fakes.dropBackups(server.agent);
  t.is((await call(app, user, 'DELETE', `/api/game/servers/${server.id}/backups/${locked.id}`)).status, 204);
  t.deepEqual((await call(app, user, 'GET', `/api/game/servers/${server.id}/backups`)).body.backups, []);

  t.is((await call(app, user, 'POST', `/api/game/servers/${server.id}/backups`, { name: 'locked-forever', locked: true })).status, 202);
  t.is((await call(app, user, 'DELETE', `/api/game/servers/${server.id}`)).status, 202);
  await eventually(async () => (await call(app, user, 'GET', `/api/game/servers/${server.id}`)).status === 404, 15_000, 'the server gone');
  const left = await db.database.knex('game_backups').where({ server_id: server.id }).count<Array<{ n: string | number }>>('* as n');
  t.is(Number(left[0]?.n), 0);
});

test.serial('power is refused during a restore, and a restore survives an API restart: the next process sees the agent finish and sets the server active again', async (t) => {
  const user = await createUser(app, admin);
  const server = await activeServer(user, 'sample', { restoreMs: 3_000 });
  const backup = (await call(app, user, 'POST', `/api/game/servers/${server.id}/backups`, { name: 'base' })).body.backup as Backup;
  t.is((await call(app, user, 'POST', `/api/game/servers/${server.id}/backups/restore?id=${backup.id}`)).status, 202);
  t.like((await call(app, user, 'GET', `/api/game/servers/${server.id}`)).body.server, { state: { lifecycle: 'restoring_backup' } });
  const during = await call(app, user, 'POST', `/api/game/servers/${server.id}/start`);
  t.is(during.status, 409, 'power is refused while restoring');
  t.like(during.body, { code: 'INSTANCE_NOT_ACTIVE' });

  await app.close();
  app = await startGameApp(config, db);
  admin = await loginAdmin(app);
  const after = await eventually(
    async () => {
      const res = await call(app, admin, 'GET', `/api/game/servers/${server.id}`);
      const s = res.body.server as { state: { lifecycle: string }; lifecycle_reason: string | null } | undefined;
      return s?.state.lifecycle === 'active' ? s : undefined;
    },
    15_000,
    'active after the restore',
  ).catch(async (err: unknown) => {
    // This has failed now and then under a loaded full suite; leave what the next process saw.
    t.log(JSON.stringify((await call(app, admin, 'GET', `/api/game/servers/${server.id}`)).body));
    t.log(JSON.stringify(await db.database.knex('game_restores').select('*')));
    for (const line of app.logs.filter((l) => l.level >= 40).slice(-20)) t.log(JSON.stringify(line).slice(0, 400));
    throw err;
  });
  t.is(after.lifecycle_reason, null);
});

test.serial('a backup that finishes while nobody looks becomes completed; one that never finishes is marked failed after the configured age', async (t) => {
  const user = await createUser(app, admin);
  const slow = await activeServer(user, 'sample', { backupMs: 1_500 });
  const made = (await call(app, user, 'POST', `/api/game/servers/${slow.id}/backups`, { name: 'slow' })).body.backup as Backup;
  t.is(made.state, 'in_progress');
  // No request reads it: the reconcile job alone brings the record up to date.
  const done = await eventually(
    async () => {
      const row = await db.database.knex('game_backups').where({ id: made.id }).first<{ state: string; sha256: string | null } | undefined>();
      return row?.state === 'completed' ? row : undefined;
    },
    15_000,
    'the job to see it complete',
  );
  t.regex(done.sha256 ?? '', /^[0-9a-f]{64}$/);

  const stuck = await activeServer(user, 'sample', { backupMs: Infinity });
  const never = (await call(app, user, 'POST', `/api/game/servers/${stuck.id}/backups`, { name: 'never' })).body.backup as Backup;
  // Six hours pass (the default stale_after_ms).
  await db.database
    .knex('game_backups')
    .where({ id: never.id })
    .update({ created_at: new Date(Date.now() - 7 * 3_600_000) });
  await runJob(app, 'game.backups-reconcile');
  const [failed] = (await call(app, user, 'GET', `/api/game/servers/${stuck.id}/backups`)).body.backups as Backup[];
  t.like(failed, { id: never.id, state: 'failed' });
  // Failed backups do not count against the limit, and the agent being busy is its own answer.
  const busy = await call(app, user, 'POST', `/api/game/servers/${stuck.id}/backups`, { name: 'next' });
  t.is(busy.status, 409);
  t.like(busy.body, { code: 'AGENT_ERROR', details: { agent_body: { code: 'busy' } } });
});

test.serial('a restore whose request was lost (crash before the agent answered) does not leave the server stuck', async (t) => {
  const user = await createUser(app, admin);
  const server = await activeServer(user);
  const backup = (await call(app, user, 'POST', `/api/game/servers/${server.id}/backups`, { name: 'base' })).body.backup as Backup;
  // What a crash between "restoring_backup" and the agent call leaves behind.
  await app.server.instances.setLifecycle(server.id, 'restoring_backup');
  await db.database.knex('game_restores').insert({ server_id: server.id, backup_id: backup.id, agent_backup_id: 'b_never_sent', started_at: new Date(Date.now() - 120_000) });
  await runJob(app, 'game.backups-reconcile');
  t.like((await call(app, user, 'GET', `/api/game/servers/${server.id}`)).body.server, { state: { lifecycle: 'active' } });
  t.is(Number((await db.database.knex('game_restores').count<Array<{ n: string | number }>>('* as n'))[0]?.n), 0);
});

test.serial("a restore the agent took and finished before the API recorded its acceptance (killed right after the answer) ends with the agent's outcome at the next pass", async (t) => {
  const user = await createUser(app, admin);
  const server = await activeServer(user, 'sample', { restoreMs: 200 });
  const backup = (await call(app, user, 'POST', `/api/game/servers/${server.id}/backups`, { name: 'base' })).body.backup as Backup;
  t.is((await call(app, user, 'POST', `/api/game/servers/${server.id}/backups/restore?id=${backup.id}`)).status, 202);
  // What a crash between the agent's 202 and recording it leaves: the record without accepted_at.
  await db.database.knex('game_restores').where({ server_id: server.id }).update({ accepted_at: null });
  await new Promise((r) => setTimeout(r, 600));
  await runJob(app, 'game.backups-reconcile');
  const after = (await call(app, user, 'GET', `/api/game/servers/${server.id}`)).body.server as { state: { lifecycle: string }; lifecycle_reason: string | null };
  t.like(after, { state: { lifecycle: 'active' }, lifecycle_reason: null }, 'settled at once, not held for the accept window and then called "not started"');
});

test.serial('the plan limit holds under concurrent creation; admins have none', async (t) => {
  const user = await createUser(app, admin);
  for (let i = 0; i < 6; i += 1) await registerAgent(app, admin, fakes);
  const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => call(app, user, 'POST', '/api/game/servers', { name: `racer ${i}` })));
  t.is(answers.filter((a) => a.status === 202).length, 3);
  const refused = answers.filter((a) => a.status === 402);
  t.is(refused.length, 3);
  t.like(refused[0]?.body, { code: 'PLAN_LIMIT_REACHED', details: { kind: 'game', limit: 3, used: 3 } });
  t.is((await call(app, admin, 'POST', '/api/game/servers', { name: 'admin 1' })).status, 202);
});
