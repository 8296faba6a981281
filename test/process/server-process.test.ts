import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { createEmptyDatabase, createTestDatabase, testEngine, type TestDatabase } from '../helpers/test-database.ts';
import { spawnServer } from '../helpers/spawn-server.ts';

/** Where a child server keeps its data: its own directory, plus a server database on the postgres engine. */
async function serverEnv(t: import('ava').ExecutionContext, fresh: boolean): Promise<Record<string, string>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'panel-proc-'));
  let db: TestDatabase | null = null;
  if (testEngine === 'postgres') db = fresh ? await createEmptyDatabase() : await createTestDatabase();
  t.teardown(async () => {
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return { DATA_DIR: dataDir, ...(db?.url ? { DATABASE_URL: db.url } : {}) };
}

test(`npm start's entry point creates its database, migrates, and serves healthz and readyz (${testEngine})`, async (t) => {
  const env = await serverEnv(t, true);
  const server = await spawnServer('src/main.ts', env);
  t.teardown(() => void server.child.kill('SIGKILL'));
  t.is((await fetch(`${server.url}/healthz`)).status, 200);
  t.is((await fetch(`${server.url}/readyz`)).status, 200);
  t.regex(server.stdout(), /"msg":"migration applied"/);
  server.child.kill('SIGTERM');
  t.is(await server.exited, 0);

  // A restart reuses the stored secrets instead of generating new ones (nobody is logged out).
  t.regex(server.stdout(), /generated and stored a new secret/);
  const again = await spawnServer('src/main.ts', env);
  t.teardown(() => void again.child.kill('SIGKILL'));
  t.is((await fetch(`${again.url}/readyz`)).status, 200);
  t.notRegex(again.stdout(), /generated and stored a new secret|migration applied/);
  again.child.kill('SIGTERM');
  t.is(await again.exited, 0);
});

test(`SIGTERM mid-request: the request completes, new connections are refused, the process exits 0 (${testEngine})`, async (t) => {
  const env = await serverEnv(t, false);
  const server = await spawnServer('test/fixtures/serve-example.ts', { ...env, PLUGINS: 'example', PANEL_RATE_LIMITS: '{"example_test": {"limit": 100, "window_s": 60}}' });
  t.teardown(() => void server.child.kill('SIGKILL'));
  const slow = fetch(`${server.url}/api/example/slow?ms=1500`);
  await sleep(300);
  server.child.kill('SIGTERM');
  await sleep(200);
  await t.throwsAsync(fetch(`${server.url}/healthz`), undefined, 'a new connection after SIGTERM is refused');
  const res = await slow;
  t.is(res.status, 200);
  t.deepEqual(await res.json(), { slept_ms: 1500 });
  t.is(await server.exited, 0);
  t.regex(server.stdout(), /"msg":"shutting down"/);
  t.regex(server.stdout(), /"msg":"stopped"/);
});

test('a second process cannot open an embedded database that a running server holds', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'panel-lock-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const server = await spawnServer('src/main.ts', { DATA_DIR: dataDir });
  t.teardown(() => void server.child.kill('SIGKILL'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/migrate.ts', 'status'], {
    env: { PATH: process.env.PATH ?? '', DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  t.is(code, 1);
  t.regex(err, new RegExp(`in use by process ${server.child.pid}`));
  // The server was not disturbed.
  t.is((await fetch(`${server.url}/readyz`)).status, 200);
});

test('a bad configuration stops boot with every bad key listed, and exit code 1', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { PATH: process.env.PATH ?? '', PORT: 'eighty', LOG_LEVEL: 'loud' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  t.is(code, 1);
  t.regex(err, /server\.port \(env PORT\)/);
  t.regex(err, /log\.level \(env LOG_LEVEL\)/);
});

test(`SIGTERM exits 0 even when whoever read the server's stdout has gone away (${testEngine})`, async (t) => {
  const env = await serverEnv(t, false);
  const server = await spawnServer('src/main.ts', env);
  t.teardown(() => void server.child.kill('SIGKILL'));
  // The reader of the log (a crashed log shipper, a closed terminal, a benchmark that died) goes
  // away just before the signal: the shutdown's own log lines are the first to fail with EPIPE.
  server.child.stdout?.destroy();
  server.child.kill('SIGTERM');
  const code = await Promise.race([server.exited, sleep(20_000).then(() => 'still running 20 s after SIGTERM')]);
  t.is(code, 0, server.stderr());
});
