import test from 'ava';
import { z } from 'zod';
import { defineEvent } from '../../../src/plugin-api/index.ts';
import { startTestApp, type TestApp } from '../../helpers/start-test-app.ts';
import { bearer, createUser, loginAdmin, type Session } from '../../helpers/auth.ts';
import { eventually, fastAgents, registerAgent } from '../../helpers/agent-core.ts';
import { openSse } from '../../helpers/sse-client.ts';
import { startFakeAgents, type FakeAgents } from '../../fakes/fake-agents.ts';
import { createTestDatabase, testEngine, type TestDatabase } from '../../helpers/test-database.ts';

let fakes: FakeAgents;
let db: TestDatabase;
let replicaA: TestApp;
let replicaB: TestApp;
let admin: Session;

test.before(async () => {
  fakes = await startFakeAgents();
  db = await createTestDatabase();
  const config = { ...fastAgents, events: { heartbeat_ms: 1_000, retention_rows: 1_000 } };
  replicaA = await startTestApp({ config, testDatabase: db });
  // Two replicas share one PostgreSQL server; the embedded database serves one process, so there B is the same replica.
  replicaB = testEngine === 'postgres' ? await startTestApp({ config, testDatabase: db }) : replicaA;
  admin = await loginAdmin(replicaA);
});

test.after.always(async () => {
  if (replicaB !== replicaA) await replicaB?.close();
  await replicaA?.close();
  await db?.drop();
  await fakes?.close();
});

/** A test's own event: only catalogue events can be published, so the test registers one on the publishing replica. */
const probe = defineEvent({ id: 'test.probe', description: 'a marker for stream tests', audience: 'owner', schema: z.record(z.string(), z.unknown()) });
const publishProbe = async (userId: string, data: Record<string, unknown>) => {
  if (!replicaA.server.catalogue.get(probe.id)) replicaA.server.catalogue.register('test', [probe], { prefixed: false });
  await replicaA.server.events.publish(probe, userId, data);
};

const streamUrl = (app: TestApp, query = '') => `${app.url}/api/events${query}`;

test(`an SSE client on replica B receives the state change caused by a poll on replica A (${testEngine})`, async (t) => {
  const user = await createUser(replicaA, admin);
  const agent = await registerAgent(replicaA, admin, fakes);
  const created = await replicaA.server.instances.create({ ownerId: user.user.id, kind: 'game', plugin: 'test', name: 'watched' });
  await eventually(async () => (await replicaA.server.instances.get(created.id, null)).state.lifecycle === 'active', 6_000, 'active');
  // Whichever replica polls this instance is "A"; the stream is opened on the other one.
  await replicaA.server.poller.reload();
  await replicaB.server.poller.reload();
  const [poller, listener] = replicaA.server.poller.cached(created.id) ? [replicaA, replicaB] : [replicaB, replicaA];
  const stream = await openSse(streamUrl(listener), { Authorization: `Bearer ${user.access_token}` });
  t.teardown(() => stream.close());
  t.is(stream.status, 200);
  fakes.setFault(agent.id, { mode: 'error500' });
  await poller.server.poller.pollNow(created.id);
  const event = await stream.waitFor((e) => e.event === 'instance.state' && JSON.parse(e.data).data.instance_id === created.id && JSON.parse(e.data).data.state.error?.code === 'AGENT_BAD_RESPONSE');
  t.truthy(event.id);
  fakes.setFault(agent.id, { mode: 'normal' });
});

test("a user sees only their own events; an admin sees everyone's, or one user's with ?user_id=", async (t) => {
  const alice = await createUser(replicaA, admin);
  const bob = await createUser(replicaA, admin);
  const aliceStream = await openSse(streamUrl(replicaB), { Authorization: `Bearer ${alice.access_token}` });
  const adminStream = await openSse(streamUrl(replicaB), { Authorization: `Bearer ${admin.access_token}` });
  const adminBobOnly = await openSse(streamUrl(replicaB, `?user_id=${bob.user.id}`), { Authorization: `Bearer ${admin.access_token}` });
  t.teardown(() => [aliceStream, adminStream, adminBobOnly].forEach((s) => s.close()));
  await publishProbe(bob.user.id, { marker: 'for-bob' });
  await publishProbe(alice.user.id, { marker: 'for-alice' });
  await aliceStream.waitFor((e) => e.data.includes('for-alice'));
  await adminStream.waitFor((e) => e.data.includes('for-alice'));
  await adminStream.waitFor((e) => e.data.includes('for-bob'));
  await adminBobOnly.waitFor((e) => e.data.includes('for-bob'));
  t.false(aliceStream.events.some((e) => e.data.includes('for-bob')));
  t.false(adminBobOnly.events.some((e) => e.data.includes('for-alice')));
  const peek = await fetch(streamUrl(replicaB, `?user_id=${bob.user.id}`), { headers: { Authorization: `Bearer ${alice.access_token}` } });
  t.is(peek.status, 403);
});

test('Last-Event-ID resumes after a disconnect, with nothing lost and nothing repeated', async (t) => {
  const user = await createUser(replicaA, admin);
  const first = await openSse(streamUrl(replicaB), { Authorization: `Bearer ${user.access_token}` });
  await publishProbe(user.user.id, { n: 1 });
  const one = await first.waitFor((e) => e.data.includes('"n":1'));
  first.close();
  await publishProbe(user.user.id, { n: 2 });
  await publishProbe(user.user.id, { n: 3 });
  const resumed = await openSse(streamUrl(replicaB), { Authorization: `Bearer ${user.access_token}`, 'Last-Event-ID': one.id ?? '' });
  t.teardown(() => resumed.close());
  await resumed.waitFor((e) => e.data.includes('"n":3'));
  const ns = resumed.events.map((e) => (JSON.parse(e.data) as { data: { n?: number } }).data.n).filter((n) => n !== undefined);
  t.deepEqual(ns, [2, 3]);
});

test('a single-use ticket opens the stream without a header; used twice it is refused', async (t) => {
  const user = await createUser(replicaA, admin);
  const issued = await replicaA.request('/api/events/ticket', bearer(user.access_token, { method: 'POST' }));
  t.is(issued.status, 201);
  const { ticket, url } = (await issued.json()) as { ticket: string; url: string };
  t.true(url.endsWith(`/api/events?ticket=${ticket}`));
  const stream = await openSse(streamUrl(replicaB, `?ticket=${ticket}`));
  t.teardown(() => stream.close());
  t.is(stream.status, 200);
  await publishProbe(user.user.id, { via: 'ticket' });
  await stream.waitFor((e) => e.data.includes('"via":"ticket"'));
  const again = await fetch(streamUrl(replicaB, `?ticket=${ticket}`));
  t.is(again.status, 401);
  t.is(((await again.json()) as { code: string }).code, 'TICKET_INVALID');
  const anonymous = await fetch(streamUrl(replicaB));
  t.is(anonymous.status, 401);
  // A ticket is only for its purpose: it is not an access token.
  const issued2 = (await (await replicaA.request('/api/events/ticket', bearer(user.access_token, { method: 'POST' }))).json()) as { ticket: string };
  t.is((await replicaA.request(`/api/auth/me?ticket=${issued2.ticket}`)).status, 401);
});

test('idle streams get heartbeats, and shutdown ends them', async (t) => {
  const extra = await startTestApp({ testDatabase: db, config: { events: { heartbeat_ms: 1_000, retention_rows: 1_000 } } });
  const user = await createUser(extra, admin);
  const stream = await openSse(streamUrl(extra), { Authorization: `Bearer ${user.access_token}` });
  await eventually(async () => stream.comments >= 1, 3_000, 'a heartbeat');
  const started = Date.now();
  await extra.close();
  await stream.ended;
  t.true(Date.now() - started < 2_000, 'shutdown did not wait for the stream');
});

test('a stream ends at the next heartbeat after its session is logged out', async (t) => {
  const user = await createUser(replicaA, admin);
  const stream = await openSse(streamUrl(replicaB), { Authorization: `Bearer ${user.access_token}` });
  t.is(stream.status, 200);
  t.is((await replicaA.request('/api/auth/logout', bearer(user.access_token, { method: 'POST' }))).status, 204);
  await stream.ended;
  t.pass();
});
