import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestApp } from '../../helpers/start-test-app.ts';
import { createEmptyDatabase, testEngine } from '../../helpers/test-database.ts';
import { spawnServer } from '../../helpers/spawn-server.ts';
import { json, login } from '../../helpers/auth.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));

test('with no admin and no ADMIN_PASSWORD, the first start prints a generated password once with where to sign in; it works; the next start prints nothing', async (t) => {
  const noAdmin = { bootstrap: { admin_username: null, admin_email: null, admin_password: null }, server: { public_url: 'https://panel.example.com' } };
  const first = await startTestApp({ config: noAdmin });
  t.teardown(() => first.close());
  const banner = first.consoleOutput.join('');
  const password = /password: (\S+)/.exec(banner)?.[1] ?? '';
  t.true(password.length >= 16);
  t.false(JSON.stringify(first.logs).includes(password), 'the password is not in the JSON log');
  // The banner names the sign-in route under PUBLIC_URL and the body's fields, with the username in `login`.
  const signIn = /Sign in: POST (\S+) with (\{.*\})/.exec(banner);
  t.is(signIn?.[1], 'https://panel.example.com/api/auth/login');
  const body = JSON.parse(signIn?.[2] ?? '{}') as Record<string, string>;
  t.deepEqual(Object.keys(body), ['login', 'password']);
  t.is(body.login, 'admin');
  t.regex(banner, /"login" takes the username or the email, admin@localhost\.localdomain/);
  // Exactly what it says, against this app's address (PUBLIC_URL is where browsers reach it).
  const res = await fetch(`${first.url}${new URL(signIn?.[1] ?? 'x:').pathname}`, json({ ...body, password }));
  t.is(res.status, 200);
  t.is(((await res.json()) as { user: { role: string } }).user.role, 'admin');
  const session = await login(first, 'admin', password);
  t.is(session.user.role, 'admin');
  const second = await startTestApp({ testDatabase: first.testDatabase, config: noAdmin });
  t.teardown(() => second.close());
  t.deepEqual(second.consoleOutput, []);
});

test('ADMIN_USERNAME, ADMIN_EMAIL and ADMIN_PASSWORD set the first admin, and bad values stop boot with their names', async (t) => {
  const app = await startTestApp({ config: { bootstrap: { admin_username: 'root-admin', admin_email: 'root@example.com', admin_password: 'chosen-password-1' } } });
  t.teardown(() => app.close());
  t.deepEqual(app.consoleOutput, []);
  t.is((await login(app, 'root@example.com', 'chosen-password-1')).user.username, 'root-admin');
  const err = await t.throwsAsync(startTestApp({ config: { bootstrap: { admin_username: 'x', admin_email: 'nope', admin_password: 'short' } } }));
  t.regex(err?.message ?? '', /ADMIN_USERNAME.*\n.*ADMIN_EMAIL.*\n.*ADMIN_PASSWORD/);
});

test(`scripts/create-admin creates an admin who can sign in (${testEngine})`, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'panel-admin-'));
  const db = testEngine === 'postgres' ? await createEmptyDatabase() : null;
  t.teardown(async () => {
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const env = { PATH: process.env.PATH ?? '', DATA_DIR: dataDir, ...(db?.url ? { DATABASE_URL: db.url } : {}) };
  const out = await new Promise<string>((resolve, reject) => {
    const child = execFile(
      process.execPath,
      ['--import', 'tsx', 'scripts/create-admin.ts', '--username', 'ops', '--email', 'ops@example.com', '--password-stdin'],
      { cwd: root, env },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
    );
    child.stdin?.end('ops-password-123\n');
  });
  t.regex(out, /Created admin "ops"/);
  t.notRegex(out, /ops-password-123/);
  const server = await spawnServer('src/main.ts', { ...env, ADMIN_PASSWORD: 'bootstrap-not-used-1' });
  t.teardown(() => void server.child.kill('SIGKILL'));
  const res = await fetch(`${server.url}/api/auth/login`, json({ login: 'ops', password: 'ops-password-123' }));
  t.is(res.status, 200);
  t.is(((await res.json()) as { user: { role: string } }).user.role, 'admin');
  // An admin existed, so the server created no other.
  t.notRegex(server.stdout(), /created the first admin/);
  server.child.kill('SIGTERM');
  t.is(await server.exited, 0);
});
