import test from 'ava';
import { SignJWT } from 'jose';
import { accessTokenKey } from '../../../src/core/auth/access-tokens.ts';
import { startTestApp, type TestApp } from '../../helpers/start-test-app.ts';
import { bearer, createUser, loginAdmin, type Session } from '../../helpers/auth.ts';

let app: TestApp;
let user: Session;

test.before(async () => {
  app = await startTestApp();
  user = await createUser(app, await loginAdmin(app));
});

test.after.always(async () => {
  await app?.close();
});

async function codeFor(token: string): Promise<[number, string | null]> {
  const res = await app.request('/api/auth/me', bearer(token));
  return [res.status, ((await res.json()) as { code?: string }).code ?? null];
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

function claims(overrides: Record<string, unknown> = {}) {
  const [, payload] = user.access_token.split('.');
  return { ...(JSON.parse(Buffer.from(payload as string, 'base64url').toString()) as Record<string, unknown>), ...overrides };
}

async function signed(payload: Record<string, unknown>, key: Uint8Array, alg = 'HS256'): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg }).sign(key);
}

test('the real token works', async (t) => {
  t.deepEqual(await codeFor(user.access_token), [200, null]);
});

test('alg none is refused', async (t) => {
  const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.`;
  t.deepEqual(await codeFor(unsigned), [401, 'AUTH_TOKEN_INVALID']);
});

test('a token signed with another key is refused', async (t) => {
  t.deepEqual(await codeFor(await signed(claims(), new TextEncoder().encode('some-other-key-that-is-long-enough-0123456789'))), [401, 'AUTH_TOKEN_INVALID']);
});

test('another HMAC algorithm with the right key is refused (the algorithm is pinned)', async (t) => {
  t.deepEqual(await codeFor(await signed(claims(), accessTokenKey(app.server.secrets.jwtSecret), 'HS512')), [401, 'AUTH_TOKEN_INVALID']);
});

test('an expired token is 401 AUTH_TOKEN_EXPIRED', async (t) => {
  const now = Math.floor(Date.now() / 1000);
  t.deepEqual(await codeFor(await signed(claims({ iat: now - 1000, exp: now - 10 }), accessTokenKey(app.server.secrets.jwtSecret))), [401, 'AUTH_TOKEN_EXPIRED']);
});

test('a token for another audience or issuer is refused', async (t) => {
  const key = accessTokenKey(app.server.secrets.jwtSecret);
  t.deepEqual(await codeFor(await signed(claims({ aud: 'streamspace' }), key)), [401, 'AUTH_TOKEN_INVALID']);
  t.deepEqual(await codeFor(await signed(claims({ iss: 'someone-else' }), key)), [401, 'AUTH_TOKEN_INVALID']);
});

test('a token naming a user that does not exist is refused', async (t) => {
  t.deepEqual(await codeFor(await signed(claims({ sub: '00000000-0000-4000-8000-000000000000' }), accessTokenKey(app.server.secrets.jwtSecret))), [401, 'AUTH_TOKEN_INVALID']);
});

test('garbage and a malformed header are refused', async (t) => {
  t.deepEqual(await codeFor('not.a.jwt'), [401, 'AUTH_TOKEN_INVALID']);
  const res = await app.request('/api/auth/me', { headers: { Authorization: 'Basic dXNlcjpwYXNz' } });
  t.is(((await res.json()) as { code: string }).code, 'AUTH_TOKEN_MISSING');
});

test('a token signed with the key stored at first start is accepted by a restarted replica', async (t) => {
  const replica = await startTestApp({ testDatabase: app.testDatabase });
  t.teardown(() => replica.close());
  t.is(replica.server.secrets.jwtSecret, app.server.secrets.jwtSecret);
  t.is((await replica.request('/api/auth/me', bearer(user.access_token))).status, 200);
});
