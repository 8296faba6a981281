import test from 'ava';
import { startTestApp, type TestApp } from '../../helpers/start-test-app.ts';
import { createUser, json, loginAdmin } from '../../helpers/auth.ts';

let app: TestApp;

test.before(async () => {
  // The shipped numbers, with X-Forwarded-For trusted so each test can act from its own IP.
  // Day-long windows: a window boundary falling mid-test would reset the counts and flake.
  app = await startTestApp({
    config: {
      server: { proxy_hops: 1 },
      rate_limits: {
        auth_login_account_ip: { limit: 5, window_s: 86_400 },
        auth_login_ip: { limit: 20, window_s: 86_400 },
        auth_reset_email: { limit: 3, window_s: 86_400 },
        auth_reset_ip: { limit: 10, window_s: 86_400 },
        auth_refresh_family: { limit: 30, window_s: 86_400 },
      },
    },
  });
});

test.after.always(async () => {
  await app?.close();
});

const from = (ip: string) => ({ 'X-Forwarded-For': ip });

test('login: 5 per window per account and IP, then 429 with headers; another account from that IP still works', async (t) => {
  const statuses: number[] = [];
  for (let i = 0; i < 6; i += 1) {
    const res = await app.request('/api/auth/login', json({ login: 'victim', password: `guess-${i}` }, from('198.51.100.1')));
    statuses.push(res.status);
    t.is(res.headers.get('x-ratelimit-limit'), '5');
  }
  t.deepEqual(statuses, [401, 401, 401, 401, 401, 429]);
  const other = await app.request('/api/auth/login', json({ login: 'someone-else', password: 'guess' }, from('198.51.100.1')));
  t.is(other.status, 401);
  const elsewhere = await app.request('/api/auth/login', json({ login: 'victim', password: 'guess' }, from('198.51.100.2')));
  t.is(elsewhere.status, 401);
});

test('login: 20 per window per IP across accounts', async (t) => {
  const statuses: number[] = [];
  for (let i = 0; i < 21; i += 1) statuses.push((await app.request('/api/auth/login', json({ login: `spray-${i}`, password: 'guess' }, from('198.51.100.9')))).status);
  t.deepEqual(statuses.slice(0, 20), Array(20).fill(401));
  t.is(statuses[20], 429);
});

test('password reset: 3 per window per email, whatever the IP; 10 per IP', async (t) => {
  const perEmail: number[] = [];
  for (let i = 0; i < 4; i += 1) perEmail.push((await app.request('/api/auth/password-reset', json({ email: 'target@example.com' }, from(`203.0.113.${i + 1}`)))).status);
  t.deepEqual(perEmail, [202, 202, 202, 429]);
  const perIp: number[] = [];
  for (let i = 0; i < 11; i += 1) perIp.push((await app.request('/api/auth/password-reset', json({ email: `many-${i}@example.com` }, from('203.0.113.50')))).status);
  t.deepEqual(perIp, [...Array(10).fill(202), 429]);
});

test('refresh: 30 per window per family', async (t) => {
  const admin = await loginAdmin(app);
  const user = await createUser(app, admin);
  let token = user.refresh_token;
  const statuses: number[] = [];
  for (let i = 0; i < 31; i += 1) {
    const res = await app.request('/api/auth/refresh', json({ refresh_token: token }, from('192.0.2.7')));
    statuses.push(res.status);
    if (res.status === 200) token = ((await res.json()) as { refresh_token: string }).refresh_token;
  }
  t.deepEqual(statuses, [...Array(30).fill(200), 429]);
});
