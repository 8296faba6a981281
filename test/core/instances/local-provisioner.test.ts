import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestApp, type TestApp } from '../../helpers/start-test-app.ts';
import { loginAdmin } from '../../helpers/auth.ts';
import { eventually } from '../../helpers/agent-core.ts';
import { createTestDatabase } from '../../helpers/test-database.ts';

const localAgents = { provisioner: 'local' as const, agents: { poll_interval_ms: 500, provision_deadline_ms: 30_000, max_backoff_ms: 2_000 } };

function pidOf(dataDir: string, id: string): number {
  return (JSON.parse(readFileSync(join(dataDir, 'instances', id, 'agent.json'), 'utf8')) as { pid: number }).pid;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test.serial('local provisioning runs a reference agent per instance; it survives an API restart, is revived when killed, and is stopped on delete', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'panel-local-'));
  const db = await createTestDatabase();
  let app: TestApp | null = null;
  t.teardown(async () => {
    await app?.close();
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const config = { ...localAgents, database: { data_dir: dataDir } };
  app = await startTestApp({ config, testDatabase: db });
  const admin = await loginAdmin(app);
  const created = await app.server.instances.create({ ownerId: admin.user.id, kind: 'game', plugin: 'test', name: 'local-one' });
  const active = await eventually(
    async () => {
      const i = await app?.server.instances.get(created.id, null);
      return i?.state.lifecycle === 'active' ? i : undefined;
    },
    30_000,
    'active',
  );
  t.like(active.state, { reachable: true, ready: true, status: 'stopped' });
  const pid = pidOf(dataDir, created.id);
  t.true(alive(pid));

  // The API restarts; the agent does not, and the new process polls it again.
  await app.close();
  t.true(alive(pid), 'the agent outlived the API');
  app = await startTestApp({ config, testDatabase: db });
  await app.server.poller.pollNow(created.id);
  t.like((await app.server.instances.get(created.id, null)).state, { lifecycle: 'active', reachable: true, ready: true });

  // Killed behind our back: the next check starts it again, on the same port with the same token.
  process.kill(pid, 'SIGKILL');
  await eventually(async () => !alive(pid), 5_000, 'the kill');
  t.is(await app.server.scheduler.fire('core.local-agents', new Date()), 'ok');
  const revived = pidOf(dataDir, created.id);
  t.not(revived, pid);
  await eventually(
    async () => {
      await app?.server.poller.pollNow(created.id);
      return (await app?.server.instances.get(created.id, null))?.state.ready;
    },
    20_000,
    'the revived agent to be ready',
  );

  await app.server.instances.remove(created.id);
  await eventually(async () => (await db.database.knex('instances').where({ id: created.id })).length === 0, 15_000, 'deleted');
  await eventually(async () => !alive(revived), 15_000, 'the agent to stop');
  t.pass();
});
