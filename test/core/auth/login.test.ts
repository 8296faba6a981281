import test from 'ava';
import { startTestApp, type TestApp } from '../../helpers/start-test-app.ts';
import { bearer, createUser, json, login, loginAdmin, type Session } from '../../helpers/auth.ts';

let app: TestApp;
let admin: Session;

test.before(async () => {
  app = await startTestApp();
  admin = await loginAdmin(app);
});

test.after.always(async () => {
  await app?.close();
});

const userKeys = ['created_at', 'disabled', 'email', 'id', 'last_login_at', 'role', 'updated_at', 'username'];

test('login by username or email (any case) returns tokens and a user without password material', async (t) => {
  const user = await createUser(app, admin);
  for (const name of [user.user.username, user.user.email.toUpperCase()]) {
    const session = await login(app, name, user.password);
    t.is(session.user.id, user.user.id);
    t.deepEqual(Object.keys(session.user).sort(), userKeys);
    t.is(session.expires_in, 900);
    t.true(session.refresh_token.length >= 43, 'at least 256 bits');
    t.false(JSON.stringify(session).includes('argon2'));
  }
});

test('a wrong password and an unknown account get byte-identical bodies (but for timestamp and request id)', async (t) => {
  const user = await createUser(app, admin);
  const strip = (text: string) => text.replace(/"timestamp":"[^"]+"/, '').replace(/"request_id":"[^"]+"/, '');
  const wrong = await app.request('/api/auth/login', json({ login: user.user.username, password: 'not-the-password' }));
  const unknown = await app.request('/api/auth/login', json({ login: 'nobody-at-all', password: 'not-the-password' }));
  t.is(wrong.status, 401);
  t.is(unknown.status, 401);
  const [a, b] = [await wrong.text(), await unknown.text()];
  t.is(strip(a), strip(b));
  t.regex(a, /"code":"AUTH_INVALID_CREDENTIALS"/);
});

test('a disabled account is told so only after the right password', async (t) => {
  const user = await createUser(app, admin);
  await app.request(`/api/admin/users/${user.user.id}`, bearer(admin.access_token, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ disabled: true }) }));
  const wrong = await app.request('/api/auth/login', json({ login: user.user.username, password: 'wrong-password' }));
  t.is(((await wrong.json()) as { code: string }).code, 'AUTH_INVALID_CREDENTIALS');
  const right = await app.request('/api/auth/login', json({ login: user.user.username, password: user.password }));
  t.is(right.status, 403);
  t.is(((await right.json()) as { code: string }).code, 'AUTH_USER_DISABLED');
});

test('register creates a user; duplicates (any case) are 409 USER_EXISTS; bad input is 400 with every issue', async (t) => {
  const res = await app.request('/api/auth/register', json({ email: 'New.Person@Example.com', username: 'newperson', password: 'long-enough-password' }));
  t.is(res.status, 201);
  const { user } = (await res.json()) as { user: { role: string; username: string } };
  t.is(user.role, 'user');
  t.deepEqual(Object.keys(user).sort(), userKeys);
  const dupEmail = await app.request('/api/auth/register', json({ email: 'new.person@example.COM', username: 'other', password: 'long-enough-password' }));
  t.is(dupEmail.status, 409);
  t.is(((await dupEmail.json()) as { code: string }).code, 'USER_EXISTS');
  const dupName = await app.request('/api/auth/register', json({ email: 'x@example.com', username: 'NEWPERSON', password: 'long-enough-password' }));
  t.is(dupName.status, 409);
  const bad = await app.request('/api/auth/register', json({ email: 'not-an-email', username: 'a b', password: 'short' }));
  t.is(bad.status, 400);
  const issues = ((await bad.json()) as { details: { issues: Array<{ path: string }> } }).details.issues.map((i) => i.path).sort();
  t.deepEqual(issues, ['body.email', 'body.password', 'body.username']);
  const huge = await app.request('/api/auth/register', json({ email: 'h@example.com', username: 'huge', password: 'x'.repeat(1025) }));
  t.is(huge.status, 400);
});

test('me answers the signed-in user; no token is 401 AUTH_TOKEN_MISSING', async (t) => {
  const user = await createUser(app, admin);
  const me = await app.request('/api/auth/me', bearer(user.access_token));
  t.is(me.status, 200);
  t.is(((await me.json()) as { user: { id: string } }).user.id, user.user.id);
  const anonymous = await app.request('/api/auth/me');
  t.is(anonymous.status, 401);
  t.is(((await anonymous.json()) as { code: string }).code, 'AUTH_TOKEN_MISSING');
});

test('registration can be switched off', async (t) => {
  const closed = await startTestApp({ config: { auth: { registration_enabled: false } } });
  t.teardown(() => closed.close());
  const res = await closed.request('/api/auth/register', json({ email: 'a@example.com', username: 'someone', password: 'long-enough-password' }));
  t.is(res.status, 403);
  t.is(((await res.json()) as { code: string }).code, 'REGISTRATION_DISABLED');
});

test('a stored hash made with weaker settings is upgraded on the next login', async (t) => {
  const user = await createUser(app, admin);
  const stronger = await startTestApp({ testDatabase: app.testDatabase, config: { auth: { argon2_memory_kib: 24_576 } } });
  t.teardown(() => stronger.close());
  const before = await app.testDatabase.database.knex('users').where({ id: user.user.id }).first<{ password_hash: string }>('password_hash');
  t.regex(before?.password_hash ?? '', /m=19456/);
  await login(stronger, user.user.username, user.password);
  const after = await app.testDatabase.database.knex('users').where({ id: user.user.id }).first<{ password_hash: string }>('password_hash');
  t.regex(after?.password_hash ?? '', /\$argon2id\$.*m=24576/);
  // Still the same password.
  await t.notThrowsAsync(login(app, user.user.username, user.password));
});

test('a NUL in the login name or in an admin filter is a 400 VALIDATION_FAILED naming the field, not a 500 from PostgreSQL', async (t) => {
  const res = await app.request('/api/auth/login', json({ login: 'a\u0000b', password: 'whatever-password' }));
  t.is(res.status, 400);
  const body = (await res.json()) as { code: string; details: { issues: Array<{ path: string }> } };
  t.is(body.code, 'VALIDATION_FAILED');
  t.deepEqual(
    body.details.issues.map((i) => i.path),
    ['body.login'],
  );
  const audit = await app.request('/api/admin/audit?action=a%00b', bearer(admin.access_token));
  t.is(audit.status, 400);
  t.deepEqual(
    ((await audit.json()) as typeof body).details.issues.map((i) => i.path),
    ['query.action'],
  );
});
