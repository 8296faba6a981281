import test from 'ava';
import { startTestApp, type TestApp } from '../../helpers/start-test-app.ts';
import { bearer, createUser, json, login, loginAdmin, type Session } from '../../helpers/auth.ts';

let app: TestApp;
let admin: Session;

test.before(async () => {
  app = await startTestApp({ config: { server: { public_url: 'https://panel.example.com' } } });
  admin = await loginAdmin(app);
});

test.after.always(async () => {
  await app?.close();
});

/** Asks for a reset and returns the token from the mail the outbox holds. */
async function resetTokenFor(email: string, headers: Record<string, string> = {}): Promise<{ token: string; link: string }> {
  const res = await app.request('/api/auth/password-reset', json({ email }, headers));
  if (res.status !== 202) throw new Error(`reset request answered ${res.status}`);
  await app.server.auth.settleMail();
  const mails = await app.server.auth.outbox.list(email);
  const link = /https?:\/\/\S+/.exec(mails.at(-1)?.text ?? '')?.[0];
  if (!link) throw new Error(`no reset mail for ${email}`);
  return { token: new URL(link).searchParams.get('token') ?? '', link };
}

const confirm = (token: string, password: string) => app.request('/api/auth/password-reset/confirm', json({ token, password }));

test('known and unknown emails get the same 202 body; only the known one gets mail', async (t) => {
  const user = await createUser(app, admin);
  const known = await app.request('/api/auth/password-reset', json({ email: user.user.email }));
  const unknown = await app.request('/api/auth/password-reset', json({ email: 'nobody@example.com' }));
  t.is(known.status, 202);
  t.is(unknown.status, 202);
  t.is(await known.text(), await unknown.text());
  await app.server.auth.settleMail();
  t.is((await app.server.auth.outbox.list(user.user.email)).length, 1);
  t.is((await app.server.auth.outbox.list('nobody@example.com')).length, 0);
});

test('the link is built from PUBLIC_URL, never from the Host header', async (t) => {
  const user = await createUser(app, admin);
  const { link } = await resetTokenFor(user.user.email, { Host: 'evil.example.net', 'X-Forwarded-Host': 'evil.example.net' });
  t.true(link.startsWith('https://panel.example.com/reset-password?token='), link);
});

test('a reset token works once; every earlier session ends; the new password works, the old does not; no session is started', async (t) => {
  const user = await createUser(app, admin);
  const { token } = await resetTokenFor(user.user.email);
  const done = await confirm(token, 'a-brand-new-password');
  t.is(done.status, 204);
  t.is(await done.text(), '');
  t.is((await app.request('/api/auth/me', bearer(user.access_token))).status, 401);
  t.is((await app.request('/api/auth/refresh', json({ refresh_token: user.refresh_token }))).status, 401);
  await t.notThrowsAsync(login(app, user.user.username, 'a-brand-new-password'));
  t.is((await app.request('/api/auth/login', json({ login: user.user.username, password: user.password }))).status, 401);
  const again = await confirm(token, 'yet-another-password');
  t.is(again.status, 400);
  t.is(((await again.json()) as { code: string }).code, 'RESET_TOKEN_INVALID');
});

test('an expired reset token is refused', async (t) => {
  const user = await createUser(app, admin);
  const { token } = await resetTokenFor(user.user.email);
  await app.testDatabase.database
    .knex('password_reset_tokens')
    .where({ user_id: user.user.id })
    .update({ expires_at: new Date(Date.now() - 1000) });
  const res = await confirm(token, 'a-brand-new-password');
  t.is(res.status, 400);
  await t.notThrowsAsync(login(app, user.user.username, user.password));
});

test('two concurrent confirms of one token: exactly one wins', async (t) => {
  const user = await createUser(app, admin);
  const { token } = await resetTokenFor(user.user.email);
  const results = await Promise.all([confirm(token, 'first-new-password'), confirm(token, 'second-new-password')]);
  t.deepEqual(results.map((r) => r.status).sort(), [204, 400]);
});

test('the raw reset token is nowhere in the database', async (t) => {
  const user = await createUser(app, admin);
  const { token } = await resetTokenFor(user.user.email);
  const { knex } = app.testDatabase.database;
  const tables = await knex.raw<{ rows: Array<{ table_name: string }> }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`);
  for (const { table_name } of tables.rows) {
    const rows = await knex(table_name).select('*');
    t.false(JSON.stringify(rows).includes(token), `found in ${table_name}`);
  }
});

test('reset requests and resets are in the audit log', async (t) => {
  const user = await createUser(app, admin);
  const { token } = await resetTokenFor(user.user.email);
  await confirm(token, 'audited-new-password');
  const res = await app.request(`/api/admin/audit?target_user_id=${user.user.id}`, bearer(admin.access_token));
  const actions = ((await res.json()) as { entries: Array<{ action: string }> }).entries.map((e) => e.action);
  t.true(actions.includes('auth.password_reset_requested'));
  t.true(actions.includes('auth.password_reset'));
});
