import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { testAdminPassword, type TestApp } from '../helpers/start-test-app.ts';
import { loginAdmin } from '../helpers/auth.ts';
import { deleteAndWait, gameTestConfig, getServer, killLocalAgents, startGameApp } from '../plugins/game/game-helpers.ts';
import { createPanelClient } from '../../clients/typescript/src/client.ts';
import { firstGameServer } from '../../clients/typescript/examples/first-game-server.ts';

/**
 * The typed client's example, run as a user would: against the real API with a real game
 * agent (local provisioner), through HTTP, the event stream and the console WebSocket.
 */
const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const example = 'clients/typescript/examples/first-game-server.ts';
let app: TestApp;
let dataDir: string;

test.before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'panel-client-'));
  app = await startGameApp(gameTestConfig('local', { database: { data_dir: dataDir } }));
});

test.after.always(async () => {
  await app?.close();
  killLocalAgents(dataDir);
  rmSync(dataDir, { recursive: true, force: true });
});

test.serial('the example signs in, creates a server, sees it go active and run over the event stream, and reads its console', async (t) => {
  const progress: string[] = [];
  const result = await firstGameServer({ url: app.url, login: 'admin', password: testAdminPassword, name: 'Typed client', timeoutMs: 30_000, log: (line) => progress.push(line) });
  t.is(result.active.lifecycle, 'active');
  t.true(result.active.ready);
  t.is(result.running.status, 'running');
  t.true(
    result.consoleLines.some((line) => line.includes('[chat] hello from the typed client')),
    JSON.stringify(result.consoleLines),
  );
  t.deepEqual(progress.slice(0, 2), ['signed in as admin', `created server ${result.serverId} (provisioning)`]);
  // Provisioning takes seconds, the stream opens in milliseconds: `active` came as an event.
  t.true(
    progress.some((line) => line.startsWith('event: active,')),
    JSON.stringify(progress),
  );

  // What the example saw is what the API says, asked without the client.
  const admin = await loginAdmin(app);
  const server = await getServer(app, admin, result.serverId);
  t.like(server, { name: 'Typed client', state: { lifecycle: 'active', status: 'running' } });
  await deleteAndWait(app, admin, result.serverId);
});

test.serial('a refused request is typed: error is the envelope, branched on by code', async (t) => {
  const client = createPanelClient(app.url);
  const { data, error, response } = await client.POST('/api/auth/login', { body: { login: 'admin@example.com', password: 'not the password' } });
  t.is(data, undefined);
  t.is(response.status, 401);
  if (!error) return t.fail('no error for a wrong password');
  t.is(error.code, 'AUTH_INVALID_CREDENTIALS');
  t.is(error.request_id, response.headers.get('x-request-id') ?? 'no header');

  // Without a token the bearer middleware sends nothing; with one, every request carries it.
  const anonymous = await client.GET('/api/auth/me');
  t.is(anonymous.error?.code, 'AUTH_TOKEN_MISSING');
  const signedIn = await client.POST('/api/auth/login', { body: { login: 'admin@example.com', password: testAdminPassword } });
  client.setToken(signedIn.data?.access_token ?? null);
  const me = await client.GET('/api/auth/me');
  t.is(me.data?.user.username, 'admin');
});

test.serial('the example CLI explains itself, and exits 1 naming the code and request id when the API refuses', async (t) => {
  const refusal = (err: { code: number; stderr: string }) => err;
  const [help, refused, missing] = await Promise.all([
    run(process.execPath, ['--import', 'tsx', example, '--help'], { cwd: root }),
    run(process.execPath, ['--import', 'tsx', example, '--url', app.url, '--login', 'admin', '--password', 'wrong-password'], { cwd: root }).then(() => null, refusal),
    run(process.execPath, ['--import', 'tsx', example, '--url', app.url], { cwd: root, env: { ...process.env, PANEL_PASSWORD: '' } }).then(() => null, refusal),
  ]);
  t.regex(help.stdout, /^Usage: /);
  t.is(refused?.code, 1);
  t.regex(refused?.stderr ?? '', /signing in as admin \(wrong login or password\) answered 401 AUTH_INVALID_CREDENTIALS: .* \(request [0-9a-f-]{36}\)/);
  t.regex(missing?.stderr ?? '', /--url, --login and --password \(or PANEL_PASSWORD\) are required/);
  t.is(missing?.code, 2);
});
