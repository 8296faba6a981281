import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { createUser, loginAdmin, type Session } from '../../helpers/auth.ts';
import { call, createServer, deleteAndWait, gameTestConfig, getServer, killLocalAgents, startGameApp, waitForServer } from './game-helpers.ts';

/**
 * Read-your-writes for power actions: when start or stop answers 202, a GET right after it,
 * with no sleep, shows the status the agent moved to, never the one before the action.
 * Against a real reference agent, 50 times each way.
 */
let app: TestApp;
let dataDir: string;
let user: Session;

test.before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'panel-ryw-game-'));
  app = await startGameApp(gameTestConfig('local', { database: { data_dir: dataDir } }));
  user = await createUser(app, await loginAdmin(app));
});

test.after.always(async () => {
  await app?.close();
  killLocalAgents(dataDir);
  rmSync(dataDir, { recursive: true, force: true });
});

test('start → GET and stop → GET, back to back, 50 times: the GET never shows the status from before the action', async (t) => {
  const created = await createServer(app, user, 'Back to back');
  await waitForServer(app, user, created.id, (s) => s.state.lifecycle === 'active', 'active');
  try {
    let checked = 0;
    for (let round = 1; round <= 50; round += 1) {
      const start = await call(app, user, 'POST', `/api/game/servers/${created.id}/start`);
      t.is(start.status, 202, `round ${round}: start ${JSON.stringify(start.body)}`);
      const afterStart = (await getServer(app, user, created.id)).state.status;
      if (afterStart !== 'starting' && afterStart !== 'running') t.fail(`round ${round}: after start the server shows ${afterStart}`);
      else checked += 1;
      // The agent refuses a stop before its workload runs; waiting for that is the agent's pace, not the cache's.
      await waitForServer(app, user, created.id, (s) => s.state.status === 'running', 'running', 15_000);

      const stop = await call(app, user, 'POST', `/api/game/servers/${created.id}/stop`);
      t.is(stop.status, 202, `round ${round}: stop ${JSON.stringify(stop.body)}`);
      const afterStop = (await getServer(app, user, created.id)).state.status;
      if (afterStop !== 'stopping' && afterStop !== 'stopped') t.fail(`round ${round}: after stop the server shows ${afterStop}`);
      else checked += 1;
      await waitForServer(app, user, created.id, (s) => s.state.status === 'stopped', 'stopped', 15_000);
    }
    t.is(checked, 100);
  } finally {
    await deleteAndWait(app, user, created.id).catch(() => undefined);
  }
});
