import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { createUser, loginAdmin, type Session } from '../../helpers/auth.ts';
import { deleteAndWait, killLocalAgents } from '../game/game-helpers.ts';
import { call, devTestConfig, readyContainer, startDevApp } from './dev-helpers.ts';

/**
 * Read-your-writes for the IDE's controls (issue: "Start IDE → Open" failed the first time):
 * when codeserver/start or /stop answers 2xx, an ide-token right after it, with no sleep,
 * already sees the IDE running or stopped. Against a real reference agent, 50 times.
 */
let app: TestApp;
let dataDir: string;
let user: Session;

test.before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'panel-ryw-'));
  app = await startDevApp(devTestConfig('local', { database: { data_dir: dataDir } }));
  user = await createUser(app, await loginAdmin(app));
});

test.after.always(async () => {
  await app?.close();
  killLocalAgents(dataDir);
  rmSync(dataDir, { recursive: true, force: true });
});

test('codeserver start → ide-token and stop → ide-token, back to back, 50 times: each token request sees what the action did', async (t) => {
  const box = await readyContainer(app, user, 'Back to back');
  try {
    const seen: string[] = [];
    for (let round = 1; round <= 50; round += 1) {
      const stopped = await call(app, user, 'POST', `/api/dev/${box.id}/codeserver/stop`);
      t.is(stopped.status, 202, `round ${round}: stop ${JSON.stringify(stopped.body)}`);
      const refused = await call(app, user, 'POST', `/api/dev/${box.id}/ide-token`);
      seen.push(`stop→${refused.status}`);
      if (refused.status !== 409 || refused.body.code !== 'IDE_NOT_RUNNING') t.fail(`round ${round}: after stop, ide-token answered ${refused.status} ${JSON.stringify(refused.body)}`);

      const started = await call(app, user, 'POST', `/api/dev/${box.id}/codeserver/start`);
      t.is(started.status, 202, `round ${round}: start ${JSON.stringify(started.body)}`);
      const link = await call(app, user, 'POST', `/api/dev/${box.id}/ide-token`);
      seen.push(`start→${link.status}`);
      if (link.status !== 201) t.fail(`round ${round}: after start, ide-token answered ${link.status} ${JSON.stringify(link.body)}`);
    }
    t.is(seen.filter((s) => s === 'stop→409').length, 50);
    t.is(seen.filter((s) => s === 'start→201').length, 50);
  } finally {
    await deleteAndWait(app, user, box.id, '/api/dev').catch(() => undefined);
  }
});
