import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createEmptyDatabase, testEngine, type TestDatabase } from '../helpers/test-database.ts';
import { spawnServer } from '../helpers/spawn-server.ts';

// `npm start` as shipped: scripts/start.mjs running the compiled build in dist/, with plain node.
const root = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);
const plainNode: string[] = [];

test.before('npm run build compiles dist/ (or finds it up to date)', async () => {
  await run(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: root, timeout: 110_000 });
});

test('the build holds the compiled server, migrations, plugins and the viewer page, and a stamp npm start accepts', async (t) => {
  for (const file of [
    'dist/src/main.js',
    'dist/migrations/20261123000000_foundation.js',
    'dist/plugins/index.js',
    'dist/plugins/streamspace/vnc/page/viewer.html',
    'dist/src/core/http/docs-page/page/docs.html',
    'dist/.build-stamp',
  ]) {
    t.true(existsSync(join(root, file)), file);
  }
  const { isStale } = (await import(join(root, 'scripts/build.mjs'))) as { isStale: () => boolean };
  t.false(isStale(), 'just built, so not stale');
});

test(`npm start runs the compiled server: it creates the database, migrates, serves, restarts on it, and drains on SIGTERM (${testEngine})`, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'panel-prod-'));
  const db: TestDatabase | null = testEngine === 'postgres' ? await createEmptyDatabase() : null;
  t.teardown(async () => {
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const env = { DATA_DIR: dataDir, ...(db?.url ? { DATABASE_URL: db.url } : {}) };
  const server = await spawnServer('scripts/start.mjs', env, 90_000, plainNode);
  t.teardown(() => void server.child.kill('SIGKILL'));
  t.is((await fetch(`${server.url}/healthz`)).status, 200);
  t.is((await fetch(`${server.url}/readyz`)).status, 200);
  t.regex(server.stdout(), /"msg":"migration applied"/);
  // The page is read from beside the compiled plugin: the build copied it.
  const page = await fetch(`${server.url}/vnc-viewer/00000000-0000-4000-8000-000000000000`);
  t.is(page.status, 200);
  t.regex(await page.text(), /vnc-viewer\/_assets\//);
  t.is((await fetch(`${server.url}/docs`)).status, 200, 'and the API reference page beside the compiled core');
  server.child.kill('SIGTERM');
  t.is(await server.exited, 0);

  const again = await spawnServer('scripts/start.mjs', env, 90_000, plainNode);
  t.teardown(() => void again.child.kill('SIGKILL'));
  t.is((await fetch(`${again.url}/readyz`)).status, 200);
  t.notRegex(again.stdout(), /migration applied/);
  t.notRegex(again.stderr(), /building dist/, 'an up-to-date build is not built again');
  again.child.kill('SIGTERM');
  t.is(await again.exited, 0);
});

test('npm start -- --help prints the usage from the build and starts nothing', async (t) => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'panel-prod-help-')), 'data');
  t.teardown(() => rmSync(join(dataDir, '..'), { recursive: true, force: true }));
  const { stdout } = await run(process.execPath, ['scripts/start.mjs', '--help'], { cwd: root, env: { PATH: process.env.PATH ?? '', DATA_DIR: dataDir } });
  t.regex(stdout, /^Usage: npm start/);
  t.regex(stdout, /PANEL_DATABASE_PGLITE_SHARED_BUFFERS_MB/);
  t.false(existsSync(dataDir), 'no data directory was created');
});
