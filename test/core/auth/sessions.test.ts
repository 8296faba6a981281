import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestApp, type TestApp } from '../../helpers/start-test-app.ts';
import { bearer, createUser, json, loginAdmin, login, type Session } from '../../helpers/auth.ts';

let app: TestApp;
let admin: Session;

test.before(async () => {
  app = await startTestApp({ config: { auth: { refresh_grace_s: 1 } } });
  admin = await loginAdmin(app);
});

test.after.always(async () => {
  await app?.close();
});

const refresh = (token: string) => app.request('/api/auth/refresh', json({ refresh_token: token }));
const status = async (token: string) => (await app.request('/api/auth/me', bearer(token))).status;

async function codeOf(res: Response): Promise<string> {
  return ((await res.json()) as { code: string }).code;
}

test('a refresh rotates: new tokens work, the spent one does not come back', async (t) => {
  const user = await createUser(app, admin);
  const res = await refresh(user.refresh_token);
  t.is(res.status, 200);
  const next = (await res.json()) as Session;
  t.not(next.refresh_token, user.refresh_token);
  t.not(next.access_token, user.access_token);
  t.is(await status(next.access_token), 200);
  t.is((await refresh(next.refresh_token)).status, 200);
});

test('reuse outside the grace window revokes the family: child refresh and every access token of it stop working', async (t) => {
  const user = await createUser(app, admin);
  const other = await login(app, user.user.username, user.password); // a second, separate session
  const child = (await (await refresh(user.refresh_token)).json()) as Session;
  t.is(await status(child.access_token), 200);
  await sleep(1_300);
  const reuse = await refresh(user.refresh_token);
  t.is(reuse.status, 401);
  t.is(await codeOf(reuse), 'AUTH_REFRESH_REUSED');
  t.is(await status(child.access_token), 401);
  t.is(await status(user.access_token), 401);
  t.is((await refresh(child.refresh_token)).status, 401);
  // The user's other session is a different family and lives on.
  t.is(await status(other.access_token), 200);
  const audit = await app.request('/api/admin/audit?action=auth.refresh_reused', bearer(admin.access_token));
  const entries = ((await audit.json()) as { entries: Array<{ target_user_id: string }> }).entries;
  t.true(entries.some((e) => e.target_user_id === user.user.id));
});

test('20 concurrent refreshes of one token inside the window mint exactly one child, and every caller gets it', async (t) => {
  // Its own app with the widest grace (5 s): on the embedded database the 20 refreshes run one
  // after another, and a loaded CI machine must not push the last of them out of the window.
  const wide = await startTestApp({ config: { auth: { refresh_grace_s: 5 } } });
  t.teardown(() => wide.close());
  const user = await createUser(wide, await loginAdmin(wide));
  const refresh = (token: string) => wide.request('/api/auth/refresh', json({ refresh_token: token }));
  const answers = await Promise.all(Array.from({ length: 20 }, () => refresh(user.refresh_token)));
  t.deepEqual(
    answers.map((r) => r.status),
    Array(20).fill(200),
  );
  const sessions = (await Promise.all(answers.map((r) => r.json()))) as Session[];
  t.is(new Set(sessions.map((s) => s.refresh_token)).size, 1);
  const family = await wide.testDatabase.database.knex('refresh_families').where({ user_id: user.user.id }).select<Array<{ id: string; revoked_at: Date | null }>>('id', 'revoked_at');
  t.is(family.length, 1);
  t.is(family[0]?.revoked_at, null);
  const tokens = await wide.testDatabase.database.knex('refresh_tokens').where({ family_id: family[0]?.id }).count<Array<{ n: string | number }>>('* as n');
  t.is(Number(tokens[0]?.n), 2, 'the login token and one child');
  t.is((await refresh(sessions[0]?.refresh_token ?? '')).status, 200);
});

test('logout ends the access token and its refresh family at once', async (t) => {
  const user = await createUser(app, admin);
  const out = await app.request('/api/auth/logout', bearer(user.access_token, json({})));
  t.is(out.status, 204);
  t.is(await status(user.access_token), 401);
  const again = await refresh(user.refresh_token);
  t.is(again.status, 401);
  t.is(await codeOf(again), 'AUTH_REFRESH_INVALID');
});

test('logout without a body works too, and a refresh token of another of my sessions can be ended with it', async (t) => {
  const user = await createUser(app, admin);
  const second = await login(app, user.user.username, user.password);
  const out = await app.request('/api/auth/logout', bearer(user.access_token, json({ refresh_token: second.refresh_token })));
  t.is(out.status, 204);
  t.is(await status(second.access_token), 401);
  const third = await login(app, user.user.username, user.password);
  const bare = await app.request('/api/auth/logout', bearer(third.access_token, { method: 'POST' }));
  t.is(bare.status, 204);
  t.is(await status(third.access_token), 401);
});

test.serial('logout fails closed: when the revocation cannot be stored it is an error, never a silent 204', async (t) => {
  const user = await createUser(app, admin);
  const { knex } = app.testDatabase.database;
  await knex.raw(`CREATE FUNCTION refuse_revocation() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'storage refused'; END $$ LANGUAGE plpgsql`);
  await knex.raw(`CREATE TRIGGER refuse_revocation BEFORE INSERT ON revoked_access_tokens FOR EACH ROW EXECUTE FUNCTION refuse_revocation()`);
  try {
    const out = await app.request('/api/auth/logout', bearer(user.access_token, json({})));
    t.is(out.status, 500);
    t.is(await codeOf(out), 'INTERNAL_ERROR');
  } finally {
    await knex.raw('DROP TRIGGER refuse_revocation ON revoked_access_tokens');
    await knex.raw('DROP FUNCTION refuse_revocation()');
  }
  // Nothing half-done: the family was not revoked either, and logging out now works.
  t.is(await status(user.access_token), 200);
  t.is((await app.request('/api/auth/logout', bearer(user.access_token, json({})))).status, 204);
  t.is(await status(user.access_token), 401);
});

test('an admin disabling a user ends their live tokens on the next request', async (t) => {
  const user = await createUser(app, admin);
  t.is(await status(user.access_token), 200);
  const patch = await app.request(
    `/api/admin/users/${user.user.id}`,
    bearer(admin.access_token, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ disabled: true }) }),
  );
  t.is(patch.status, 200);
  t.true([401, 403].includes(await status(user.access_token)));
  const refused = await refresh(user.refresh_token);
  t.is(refused.status, 403);
  t.is(await codeOf(refused), 'AUTH_USER_DISABLED');
  // Enabling again does not bring the old sessions back.
  await app.request(`/api/admin/users/${user.user.id}`, bearer(admin.access_token, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ disabled: false }) }));
  t.is(await status(user.access_token), 401);
});

test('deleting a user ends their tokens', async (t) => {
  const user = await createUser(app, admin);
  t.is((await app.request(`/api/admin/users/${user.user.id}`, bearer(admin.access_token, { method: 'DELETE' }))).status, 204);
  t.is(await status(user.access_token), 401);
});

test('the prune job removes families that ended, with their tokens, and expired denylist entries', async (t) => {
  const user = await createUser(app, admin);
  const { knex } = app.testDatabase.database;
  await knex('refresh_families')
    .where({ user_id: user.user.id })
    .update({ expires_at: new Date(Date.now() - 2 * 86_400_000) });
  await knex('revoked_access_tokens').insert({ jti: `old-${user.user.id}`, user_id: user.user.id, expires_at: new Date(Date.now() - 1000) });
  t.is(await app.server.scheduler.fire('core.auth-prune', new Date()), 'ok');
  t.is((await knex('refresh_families').where({ user_id: user.user.id })).length, 0);
  t.is((await knex('revoked_access_tokens').where({ user_id: user.user.id })).length, 0);
  t.is((await refresh(user.refresh_token)).status, 401);
});
