import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { shippedPlugins } from '../../../plugins/index.ts';
import { startTestApp, type TestApp } from '../../helpers/start-test-app.ts';
import { createUser, loginAdmin } from '../../helpers/auth.ts';
import { duplicateKeys } from '../../helpers/duplicate-keys.ts';
import { testEngine } from '../../helpers/test-database.ts';
import { call, createServer, deleteAndWait, gameTestConfig, waitForServer } from '../../plugins/game/game-helpers.ts';
import { v1Admin, waitFor, withAgent } from '../../plugins/streamspace/ss-helpers.ts';
import { killLocalAgents } from '../../../src/core/instances/local-provisioner.ts';

/**
 * Every JSON line a real server writes, from boot through requests, background jobs and a game
 * server's life to shutdown, is read by a parser that sees keys written twice. pino does not
 * merge a child's bindings with its parent's: `component` bound twice was two keys on one line.
 */
let app: TestApp | undefined;
let dataDir = '';

test.after.always(async () => {
  await app?.close().catch(() => undefined);
  if (dataDir) {
    killLocalAgents(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test(`no log line of a boot, requests, jobs and shutdown has a key twice (${testEngine})`, async (t) => {
  dataDir = mkdtempSync(join(tmpdir(), 'panel-log-lines-'));
  const started = await startTestApp({ plugins: shippedPlugins, config: gameTestConfig('local', { database: { data_dir: dataDir } }) });
  app = started;
  const admin = await loginAdmin(started);
  const owner = await createUser(started, admin);
  const server = await createServer(started, owner, 'Logs');
  await waitForServer(started, owner, server.id, (s) => s.state.lifecycle === 'active', 'active');
  t.is((await call(started, owner, 'GET', `/api/game/servers/${server.id}/files?path=/`)).status, 200);
  t.is((await call(started, owner, 'GET', '/api/game/servers/00000000-0000-4000-8000-000000000000')).status, 404);
  t.is((await started.request('/api/nothing-here')).status, 404);
  t.is((await started.request('/api/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"broken' })).status, 400);
  // A StreamSpace agent registers and leaves: its hub logs through a child of the plugin's component logger.
  const v1 = await v1Admin(started);
  await withAgent(started, v1, {}, async (_agent, agentId) => {
    await waitFor('the agent to register', async () => started.logs.some((l) => l.msg === 'agent registered' && l.agent_id === agentId));
  });
  // Jobs of every plugin run a few times meanwhile (streamspace sweeps, dev socket rechecks, polls).
  await sleep(1_500);
  await deleteAndWait(started, owner, server.id);
  await started.close();
  app = undefined;

  const lines = started.logLines;
  t.true(lines.length > 50, `only ${lines.length} lines`);
  const components = new Set(started.logs.map((l) => l.component).filter(Boolean));
  t.true(components.size >= 3, `components logged: ${[...components].join(', ')}`);
  const repeated = lines.flatMap((line) => duplicateKeys(line).map((key) => `${key} in ${line.slice(0, 300)}`));
  t.deepEqual(repeated, []);
});

test('the duplicate-key reader sees what JSON.parse hides, and refuses what is not JSON', (t) => {
  t.deepEqual(duplicateKeys('{"a":1,"b":{"c":2,"c":3},"a":[{"d":1,"d":2}]}'), ['$.b.c', '$.a', '$.a[0].d']);
  t.deepEqual(duplicateKeys('{"component":"x","msg":"a \\"component\\":"}'), []);
  t.throws(() => duplicateKeys('{"a":1'));
  t.throws(() => duplicateKeys('{"a":1} x'));
});
