import test from 'ava';
import { createUser, loginAdmin } from '../../helpers/auth.ts';
import { startTestApp, type LogRecord, type TestApp } from '../../helpers/start-test-app.ts';
import { eventually } from '../../helpers/agent-core.ts';
import { testEngine } from '../../helpers/test-database.ts';

/** Access lines say who asked (the client IP past the trusted proxy, the user) and which replica answered. */
let app: TestApp;

test.before(async () => {
  app = await startTestApp({ config: { server: { proxy_hops: 1 } } });
});

test.after.always(async () => {
  await app?.close();
});

const accessLine = (requestId: string) => eventually(async () => app.logs.find((l): l is LogRecord => l.msg === 'request' && l.request_id === requestId), 5_000, `the access line of ${requestId}`);

test(`an access line carries the client IP past the trusted proxy, the user id when signed in, and the replica id (${testEngine})`, async (t) => {
  const admin = await loginAdmin(app);
  const user = await createUser(app, admin);
  // One trusted proxy: the rightmost X-Forwarded-For entry is the client; the one before it is whatever the client claimed.
  const signedIn = await app.request('/api/auth/me', { headers: { Authorization: `Bearer ${user.access_token}`, 'X-Forwarded-For': '198.51.100.9, 203.0.113.7', 'X-Request-Id': 'access-signed-in' } });
  t.is(signedIn.status, 200);
  const anonymous = await app.request('/api/auth/me', { headers: { 'X-Forwarded-For': '203.0.113.8', 'X-Request-Id': 'access-anonymous' } });
  t.is(anonymous.status, 401);
  const direct = await app.request('/api/health', { headers: { 'X-Request-Id': 'access-direct' } });
  await direct.arrayBuffer();

  const replicas = await app.testDatabase.database.knex('replicas').select<Array<{ id: string }>>('id');
  t.is(replicas.length, 1);
  const replicaId = replicas[0]?.id;

  const a = await accessLine('access-signed-in');
  t.is(a.ip, '203.0.113.7');
  t.is(a.user_id, user.user.id);
  t.is(a.replica_id, replicaId);
  const b = await accessLine('access-anonymous');
  t.is(b.ip, '203.0.113.8');
  t.false('user_id' in b, 'an anonymous request names no user');
  t.is(b.replica_id, replicaId);
  const c = await accessLine('access-direct');
  t.regex(String(c.ip), /^(::ffff:)?127\.0\.0\.1$/, 'no X-Forwarded-For: the socket peer');
});
