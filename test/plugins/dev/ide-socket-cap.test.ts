import test from 'ava';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { bearer, createUser, json, loginAdmin, type Session } from '../../helpers/auth.ts';
import { eventually } from '../../helpers/agent-core.ts';
import { startReferenceAgent, type ReferenceAgent } from '../../helpers/reference-agent.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-database.ts';
import { expectOpen, isRefusal, openSocket, type RefusedUpgrade, type TestSocket } from '../../helpers/ws-client.ts';
import { sampleCommands } from '../../../src/plugin-api/index.ts';
import { devPlugin } from '../../../plugins/dev/index.ts';
import type { DevContainer } from '../../../plugins/dev/dev-container.ts';
import { closeAndFree, slotRows as countSlots } from '../../helpers/socket-slots.ts';
import { startTestApp } from '../../helpers/start-test-app.ts';
import { deleteAndWait } from '../game/game-helpers.ts';
import { devTestConfig, openIde, readyContainer, waitForContainer } from './dev-helpers.ts';

/**
 * The per-user cap on IDE WebSockets, counted across two replicas on one PostgreSQL: one IDE
 * session's sockets through either replica count together. The agent is a real reference
 * agent running the IDE stand-in, in the static pool, so both replicas reach it. On the
 * embedded database only one process may open it, so both names point at the same app there.
 */
let db: TestDatabase;
let agent: ReferenceAgent;
let first: TestApp;
let second: TestApp;
let user: Session;
let box: DevContainer;
let cookie: string;

const maxSocketsPerUser = 3;

test.before(async () => {
  db = await createTestDatabase();
  agent = await startReferenceAgent(['--ide-command', sampleCommands.ide]);
  // Generous poll timeouts: on a loaded machine a slow poll would mark the IDE unknown (409
  // IDE_NOT_RUNNING) and the recheck job would close sockets, which is not what this tests.
  const agents = {
    poll_interval_ms: 500,
    poll_timeout_ms: 5_000,
    poll_connect_timeout_ms: 2_000,
    action_timeout_ms: 10_000,
    max_backoff_ms: 2_000,
    provision_deadline_ms: 30_000,
    breaker_cooldown_ms: 200,
  };
  const config = devTestConfig('static', { agents }, { max_sockets_per_user: maxSocketsPerUser });
  first = await startTestApp({ plugins: [devPlugin], config, testDatabase: db });
  second = db.database.engine === 'postgres' ? await startTestApp({ plugins: [devPlugin], config, testDatabase: db }) : first;
  const admin = await loginAdmin(first);
  const registered = await first.request('/api/admin/agents', bearer(admin.access_token, json({ name: 'ide-cap', base_url: agent.baseUrl, token: agent.token, kind: 'any' })));
  if (registered.status !== 201) throw new Error(`registering the agent answered ${registered.status}: ${await registered.text()}`);
  user = await createUser(first, admin);
  box = await readyContainer(first, user, 'Shared IDE');
  // The replica that polls the agent may hold "IDE running" in memory for up to a poll interval
  // before the row says so (the poller writes IDE details in batches); wait until both see it.
  await waitForContainer(second, user, box.id, (c) => c.codeserver.state === 'running', 'the other replica to see the IDE running');
  cookie = (await openIde(first, user, box.id)).cookie;
});

test.after.always(async () => {
  if (first && box) await deleteAndWait(first, user, box.id, '/api/dev').catch(() => undefined);
  if (second !== first) await second?.close();
  await first?.close();
  await agent?.stop();
  await db?.drop();
});

const host = (): string => `dev-${box.vmid}.ide.test`;
const openIdeSocket = (app: TestApp): Promise<TestSocket | RefusedUpgrade> => openSocket(`${app.url.replace(/^http/, 'ws')}/`, { Host: host(), Origin: `http://${host()}`, Cookie: cookie });

const slotRows = (): Promise<number> => countSlots(db.database.knex, `dev:ide-user:${user.user.id}`);

const opened = expectOpen;

const closeAll = (sockets: TestSocket[]): Promise<void> => closeAndFree(sockets, db.database.knex, `dev:ide-user:${user.user.id}`, 'IDE');

test.serial("a user's IDE sockets on both replicas count against one cap: the next is refused with 429 IDE_SOCKET_LIMIT, and a closed one frees its place", async (t) => {
  const open = [opened(await openIdeSocket(first)), opened(await openIdeSocket(second)), opened(await openIdeSocket(first))];
  t.is(await slotRows(), 3);
  for (const app of [second, first]) {
    const over = await openIdeSocket(app);
    if (!isRefusal(over)) return t.fail('a fourth IDE socket was let through');
    t.is(over.status, 429);
    t.like(over.body, { code: 'IDE_SOCKET_LIMIT', details: { limit: maxSocketsPerUser } });
  }
  // The sockets that are open still reach the IDE.
  open[1]?.send('still-through');
  t.is(await open[1]?.waitFor((f) => f === 'still-through'), 'still-through');
  const gone = open.shift() as TestSocket;
  gone.ws.close();
  await gone.closed;
  await eventually(async () => (await slotRows()) === 2, 10_000, "the closed socket's slot to be freed");
  open.push(opened(await openIdeSocket(second)));
  await closeAll(open);
});

test.serial('IDE sockets opened all at once through both replicas never pass the cap', async (t) => {
  const results = await Promise.all(Array.from({ length: 9 }, (_, i) => openIdeSocket(i % 2 === 0 ? first : second)));
  const open = results.filter((r): r is TestSocket => !isRefusal(r));
  t.is(open.length, maxSocketsPerUser);
  for (const r of results) if (isRefusal(r)) t.is(r.body.code, 'IDE_SOCKET_LIMIT');
  await closeAll(open);
});
