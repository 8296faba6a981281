import test from 'ava';
import { startTestApp, type TestApp } from '../../helpers/start-test-app.ts';
import { bearer, createUser, json, loginAdmin, type Session } from '../../helpers/auth.ts';

let app: TestApp;
let admin: Session;

test.before(async () => {
  app = await startTestApp();
  admin = await loginAdmin(app);
});

test.after.always(async () => {
  await app?.close();
});

const patch = (token: string, id: string, body: unknown) =>
  app.request(`/api/admin/users/${id}`, bearer(token, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) }));

test('a non-admin gets 403 AUTH_INSUFFICIENT_PERMISSIONS on every /api/admin route', async (t) => {
  const user = await createUser(app, admin);
  const doc = (await (await app.request('/openapi.json')).json()) as { paths: Record<string, Record<string, unknown>> };
  const adminRoutes = Object.entries(doc.paths).filter(([path]) => path.startsWith('/api/admin/'));
  t.true(adminRoutes.flatMap(([, methods]) => Object.keys(methods)).length >= 6);
  for (const [path, methods] of adminRoutes) {
    for (const method of Object.keys(methods)) {
      const url = path.replace(/\{[^}]+\}/g, user.user.id);
      const res = await app.request(
        url,
        bearer(user.access_token, { method: method.toUpperCase(), headers: { 'Content-Type': 'application/json' }, ...(method === 'get' || method === 'delete' ? {} : { body: '{}' }) }),
      );
      t.is(res.status, 403, `${method.toUpperCase()} ${path}`);
      t.is(((await res.json()) as { code: string }).code, 'AUTH_INSUFFICIENT_PERMISSIONS');
    }
  }
});

test('admins list users with pagination and a role filter, and never see password material', async (t) => {
  for (let i = 0; i < 3; i += 1) await createUser(app, admin);
  const page = await app.request('/api/admin/users?page=1&limit=2', bearer(admin.access_token));
  const body = (await page.json()) as { users: Array<Record<string, unknown>>; pagination: { page: number; limit: number; total: number; total_pages: number } };
  t.is(body.users.length, 2);
  t.is(body.pagination.limit, 2);
  t.true(body.pagination.total >= 4);
  t.is(body.pagination.total_pages, Math.ceil(body.pagination.total / 2));
  t.false(JSON.stringify(body).includes('password'));
  const admins = (await (await app.request('/api/admin/users?role=admin', bearer(admin.access_token))).json()) as { users: Array<{ role: string }> };
  t.true(admins.users.length >= 1 && admins.users.every((u) => u.role === 'admin'));
  const clamped = (await (await app.request('/api/admin/users?limit=500', bearer(admin.access_token))).json()) as { pagination: { limit: number } };
  t.is(clamped.pagination.limit, 100);
  t.is((await app.request('/api/admin/users?role=root', bearer(admin.access_token))).status, 400);
});

test('admins create, read, patch and delete users', async (t) => {
  const created = await app.request('/api/admin/users', bearer(admin.access_token, json({ username: 'managed', email: 'managed@example.com', password: 'managed-password' })));
  t.is(created.status, 201);
  const { user } = (await created.json()) as { user: { id: string; role: string } };
  t.is(user.role, 'user');
  t.is((await app.request(`/api/admin/users/${user.id}`, bearer(admin.access_token))).status, 200);
  const changed = await patch(admin.access_token, user.id, { role: 'admin', email: 'Managed2@example.com' });
  t.is(changed.status, 200);
  t.like(((await changed.json()) as { user: object }).user, { role: 'admin', email: 'Managed2@example.com' });
  t.is((await patch(admin.access_token, user.id, {})).status, 400);
  t.is((await patch(admin.access_token, user.id, { password_hash: 'x' })).status, 400);
  t.is((await app.request(`/api/admin/users/${user.id}`, bearer(admin.access_token, { method: 'DELETE' }))).status, 204);
  const gone = await app.request(`/api/admin/users/${user.id}`, bearer(admin.access_token));
  t.is(gone.status, 404);
  t.is((await app.request('/api/admin/users/not-a-uuid', bearer(admin.access_token))).status, 400);
});

test('a user who still owns instances is not deleted: 409 USER_HAS_INSTANCES says what to do; without them, 204', async (t) => {
  const owner = await createUser(app, admin);
  const knex = app.server.database.knex;
  const [instance] = await knex('instances').insert({ owner_id: owner.user.id, kind: 'game', plugin: 'game', name: 'left-over', provisioner: 'static' }).returning<Array<{ id: string }>>('id');
  const refused = await app.request(`/api/admin/users/${owner.user.id}`, bearer(admin.access_token, { method: 'DELETE' }));
  t.is(refused.status, 409);
  const body = (await refused.json()) as { code: string; message: string; details: { instances: number } };
  t.is(body.code, 'USER_HAS_INSTANCES');
  t.is(body.details.instances, 1);
  t.regex(body.message, /delete them first/);
  t.is((await app.request(`/api/admin/users/${owner.user.id}`, bearer(admin.access_token))).status, 200, 'the user is still there');
  await knex('instances').where({ id: instance?.id }).delete();
  t.is((await app.request(`/api/admin/users/${owner.user.id}`, bearer(admin.access_token, { method: 'DELETE' }))).status, 204);
});

test('a demoted admin loses admin rights on the next request', async (t) => {
  const second = await createUser(app, admin, { role: 'admin' });
  t.is((await app.request('/api/admin/users', bearer(second.access_token))).status, 200);
  await patch(admin.access_token, second.user.id, { role: 'user' });
  t.is((await app.request('/api/admin/users', bearer(second.access_token))).status, 403);
});

test.serial('the last active admin cannot be deleted, demoted or disabled', async (t) => {
  const { knex } = app.testDatabase.database;
  // Make the bootstrap admin the only active admin.
  await knex('users').where({ role: 'admin' }).whereNot({ id: admin.user.id }).update({ role: 'user' });
  for (const res of [
    await app.request(`/api/admin/users/${admin.user.id}`, bearer(admin.access_token, { method: 'DELETE' })),
    await patch(admin.access_token, admin.user.id, { role: 'user' }),
    await patch(admin.access_token, admin.user.id, { disabled: true }),
  ]) {
    t.is(res.status, 409);
    t.is(((await res.json()) as { code: string }).code, 'LAST_ADMIN');
  }
  // With a second admin, two concurrent deletions cannot remove both.
  const second = await createUser(app, admin, { role: 'admin' });
  const results = await Promise.all([
    app.request(`/api/admin/users/${second.user.id}`, bearer(admin.access_token, { method: 'DELETE' })),
    app.request(`/api/admin/users/${admin.user.id}`, bearer(second.access_token, { method: 'DELETE' })),
  ]);
  // One deletion wins; the other is refused as the last admin, or its caller no longer exists.
  const statuses = results.map((r) => r.status).sort();
  t.is(statuses[0], 204);
  t.true([401, 409].includes(statuses[1] ?? 0), String(statuses[1]));
  const left = await knex('users').where({ role: 'admin', disabled: false }).count<Array<{ n: string | number }>>('* as n');
  t.is(Number(left[0]?.n), 1);
  if (results[1]?.status === 204) admin = second; // the bootstrap admin was the one deleted
});

test('logins, failures, logouts and admin changes are in the audit log, filterable', async (t) => {
  const user = await createUser(app, admin);
  await app.request('/api/auth/login', json({ login: user.user.username, password: 'wrong-password' }));
  await app.request('/api/auth/logout', bearer(user.access_token, json({})));
  await patch(admin.access_token, user.user.id, { disabled: true });
  const res = await app.request(`/api/admin/audit?target_user_id=${user.user.id}&limit=50`, bearer(admin.access_token));
  const entries = ((await res.json()) as { entries: Array<{ action: string; ip: string | null; request_id: string | null }> }).entries;
  const actions = entries.map((e) => e.action);
  for (const action of ['admin.user_created', 'auth.login', 'auth.login_failed', 'auth.logout', 'admin.user_updated']) t.true(actions.includes(action), action);
  t.true(entries.every((e) => e.request_id !== null && e.ip !== null));
  const onlyFailures = (await (await app.request('/api/admin/audit?action=auth.login_failed', bearer(admin.access_token))).json()) as { entries: Array<{ action: string }> };
  t.true(onlyFailures.entries.every((e) => e.action === 'auth.login_failed'));
  const future = (await (await app.request(`/api/admin/audit?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`, bearer(admin.access_token))).json()) as { entries: unknown[] };
  t.is(future.entries.length, 0);
});
