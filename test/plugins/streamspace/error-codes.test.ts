import test from 'ava';
import { randomUUID } from 'node:crypto';
import { SignJWT, decodeJwt } from 'jose';
import { streamspaceAudience } from '../../../plugins/streamspace/index.ts';
import { accessTokenKey } from '../../../src/core/auth/access-tokens.ts';
import { bearer, loginAdmin } from '../../helpers/auth.ts';
import { testConfig, type TestApp } from '../../helpers/start-test-app.ts';
import { call, startStreamspace, startV1App, v1, v1Login, v1User, type V1Session } from './ss-helpers.ts';
import { assertError, type Answer } from './error-envelope.ts';

/** Seed "Error Codes" + addendum "Choices": every code a client can meet, provoked through the real API (those of agents and sessions: error-codes-sessions.test.ts). */
let app: TestApp;
let admin: V1Session;

test.before(async () => {
  ({ app, admin } = await startV1App());
});
test.after.always(() => app?.close());

let accounts = 0;
async function account(role: 'user' | 'admin' = 'user'): Promise<{ username: string; password: string; id: string }> {
  accounts += 1;
  const username = `ss.ec${process.pid}x${accounts}`;
  const password = `password-ec-${accounts}-long`;
  const res = await call(app, 'POST', `${v1}/users`, admin.token, { username, email: `${username}@example.com`, password, role });
  if (res.status !== 201) throw new Error(`create user: ${res.status} ${JSON.stringify(res.body)}`);
  return { username, password, id: res.body.id as string };
}

test('a wrong password or an unknown username answers 401 AUTH_INVALID_CREDENTIALS', async (t) => {
  assertError(t, await call(app, 'POST', `${v1}/auth/login`, undefined, { username: 'admin', password: 'not-the-password' }), 401, 'AUTH_INVALID_CREDENTIALS');
  assertError(t, await call(app, 'POST', `${v1}/auth/login`, undefined, { username: `nobody${process.pid}`, password: 'whatever-password' }), 401, 'AUTH_INVALID_CREDENTIALS');
});

test('an expired login token answers 401 AUTH_TOKEN_EXPIRED', async (t) => {
  const user = await v1User(app, admin);
  const claims = decodeJwt(user.token);
  const key = accessTokenKey(app.server.secrets.jwtSecret);
  const mint = (iat: number, exp: number): Promise<string> =>
    new SignJWT({ role: claims.role, fid: claims.fid })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(String(claims.sub))
      .setJti(String(claims.jti))
      .setIssuer(testConfig().auth.issuer)
      .setAudience(streamspaceAudience)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(key);
  const now = Math.floor(Date.now() / 1000);
  // The same claims, unexpired, are accepted (proves key, issuer and audience): only the expiry differs below.
  t.is((await call(app, 'GET', `${v1}/sessions`, await mint(Number(claims.iat), now + 600))).status, 200);
  assertError(t, await call(app, 'GET', `${v1}/sessions`, await mint(now - 7200, now - 3600)), 401, 'AUTH_TOKEN_EXPIRED');
});

test('a malformed token, a portal token and a logged-out token answer 401 AUTH_TOKEN_INVALID', async (t) => {
  assertError(t, await call(app, 'GET', `${v1}/sessions`, 'not-a-jwt-at-all'), 401, 'AUTH_TOKEN_INVALID');
  const portal = await loginAdmin(app);
  t.is((await app.request('/api/admin/users', bearer(portal.access_token))).status, 200, 'the portal token works on the portal');
  assertError(t, await call(app, 'GET', `${v1}/sessions`, portal.access_token), 401, 'AUTH_TOKEN_INVALID');
  const user = await v1User(app, admin);
  t.is((await call(app, 'GET', `${v1}/sessions`, user.token)).status, 200);
  const out = await call(app, 'POST', `${v1}/auth/logout`, user.token);
  t.is(out.status, 200);
  t.deepEqual(out.body, { message: 'Logout successful' });
  assertError(t, await call(app, 'GET', `${v1}/sessions`, user.token), 401, 'AUTH_TOKEN_INVALID');
});

test('a request without a bearer token answers 401 AUTH_TOKEN_MISSING', async (t) => {
  assertError(t, await call(app, 'GET', `${v1}/sessions`), 401, 'AUTH_TOKEN_MISSING');
  assertError(t, await call(app, 'GET', `${v1}/templates`), 401, 'AUTH_TOKEN_MISSING');
  assertError(t, await call(app, 'GET', `${v1}/sessions`, undefined, undefined, { Authorization: 'Basic YWRtaW46cGFzcw==' }), 401, 'AUTH_TOKEN_MISSING');
});

test('a user disabled by the core admin gets 403 AUTH_USER_DISABLED at login', async (t) => {
  const user = await account();
  const before = await v1Login(app, user.username, user.password);
  const portal = await loginAdmin(app);
  const patched = await app.request(
    `/api/admin/users/${user.id}`,
    bearer(portal.access_token, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ disabled: true }) }),
  );
  t.is(patched.status, 200, await patched.text());
  assertError(t, await call(app, 'POST', `${v1}/auth/login`, undefined, { username: user.username, password: user.password }), 403, 'AUTH_USER_DISABLED');
  t.true([401, 403].includes((await call(app, 'GET', `${v1}/sessions`, before.token)).status), 'the earlier token stops working too');
});

test('an unknown template answers 400 TEMPLATE_NOT_FOUND when creating a session and 404 when looked up', async (t) => {
  const user = await v1User(app, admin);
  assertError(t, await call(app, 'POST', `${v1}/sessions`, user.token, { template: 'no-such-template' }), 400, 'TEMPLATE_NOT_FOUND');
  assertError(t, await call(app, 'GET', `${v1}/templates/no-such-template`, user.token), 404, 'TEMPLATE_NOT_FOUND');
});

test('a template with an impossible VNC port answers 400 TEMPLATE_INVALID naming the field', async (t) => {
  const template = {
    name: `ec-bad-${process.pid}`,
    display_name: 'Bad',
    category: 'Tests',
    base_image: 'example/bad:1',
    default_resources: { memory: '1Gi', cpu: '500m' },
    vnc: { enabled: true, port: 70000 },
  };
  assertError(t, await call(app, 'POST', `${v1}/templates`, admin.token, template), 400, 'TEMPLATE_INVALID', 'vnc.port');
  t.is((await call(app, 'GET', `${v1}/templates/${template.name}`, admin.token)).status, 404, 'nothing was stored');
});

test('a bad body value answers 400 VALIDATION_FAILED naming the field', async (t) => {
  const user = await v1User(app, admin);
  assertError(t, await call(app, 'POST', `${v1}/sessions`, user.token, { template: 'firefox-browser', persistent_home: 'yes' }), 400, 'VALIDATION_FAILED', 'persistent_home');
  assertError(t, await call(app, 'POST', `${v1}/sessions`, user.token, { template: 42 }), 400, 'VALIDATION_FAILED', 'template');
  assertError(t, await call(app, 'POST', `${v1}/users`, admin.token, { username: `ec.bad${process.pid}`, email: 'not-an-email', password: 'long-enough-password' }), 400, 'VALIDATION_FAILED', 'email');
});

test('a bad query or path parameter answers 400 INVALID_PARAMETER naming it', async (t) => {
  const user = await v1User(app, admin);
  assertError(t, await call(app, 'GET', `${v1}/sessions?page=0`, user.token), 400, 'INVALID_PARAMETER', 'page');
  assertError(t, await call(app, 'GET', `${v1}/templates?limit=abc`, user.token), 400, 'INVALID_PARAMETER', 'limit');
  assertError(t, await call(app, 'GET', `${v1}/sessions/not-a-uuid`, user.token), 400, 'INVALID_PARAMETER', 'id');
});

test('a missing required field answers 400 MISSING_REQUIRED_FIELD naming it', async (t) => {
  const user = await v1User(app, admin);
  assertError(t, await call(app, 'POST', `${v1}/sessions`, user.token, { state: 'running' }), 400, 'MISSING_REQUIRED_FIELD', 'template');
  assertError(t, await call(app, 'POST', `${v1}/auth/login`, undefined, { username: 'admin' }), 400, 'MISSING_REQUIRED_FIELD', 'password');
});

test('X-RateLimit headers are on /api/v1 error answers too (401 and 404)', async (t) => {
  const user = await v1User(app, admin);
  for (const res of [await call(app, 'GET', `${v1}/sessions`), await call(app, 'GET', `${v1}/sessions/${randomUUID()}`, user.token)]) {
    t.true([401, 404].includes(res.status));
    for (const header of ['X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset']) t.regex(res.headers.get(header) ?? '', /^\d+$/, `${header} on ${res.status}`);
  }
});

test('X-RateLimit headers are on every /api/v1 answer, an unknown route (404) and a wrong method (405) included', async (t) => {
  for (const res of [await call(app, 'GET', `${v1}/no-such-route`, admin.token), await call(app, 'PUT', `${v1}/sessions`, admin.token)]) {
    t.true([404, 405].includes(res.status));
    for (const header of ['X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset']) t.regex(res.headers.get(header) ?? '', /^\d+$/, `${header} on ${res.status}`);
  }
});

test('the sixth login for one username within the window answers 429 RATE_LIMIT_EXCEEDED with retry_after and X-RateLimit headers', async (t) => {
  // Windows are fixed and aligned to the clock: an hour-long one keeps a window boundary from falling inside the test.
  const limited = await startStreamspace({ rate_limits: { streamspace_login: { limit: 5, window_s: 3600 } } });
  try {
    const attempt = (username: string): Promise<Answer> => call(limited, 'POST', `${v1}/auth/login`, undefined, { username, password: 'wrong-password' });
    for (let i = 1; i <= 5; i += 1) {
      const res = await attempt('admin');
      t.is(res.status, 401, `attempt ${i}`);
      t.is(res.headers.get('X-RateLimit-Limit'), '5');
      t.is(res.headers.get('X-RateLimit-Remaining'), String(5 - i));
    }
    const refused = await attempt('admin');
    assertError(t, refused, 429, 'RATE_LIMIT_EXCEEDED');
    t.is(typeof refused.body.retry_after, 'number');
    t.true(refused.body.retry_after >= 1 && refused.body.retry_after <= 3600, String(refused.body.retry_after));
    t.is(refused.headers.get('X-RateLimit-Limit'), '5');
    t.is(refused.headers.get('X-RateLimit-Remaining'), '0');
    t.true(Number(refused.headers.get('X-RateLimit-Reset')) >= Math.floor(Date.now() / 1000), 'reset is a future Unix time');
    t.is((await attempt('someone-else')).status, 401, 'another username from the same IP is still let through');
  } finally {
    await limited.close();
  }
});
