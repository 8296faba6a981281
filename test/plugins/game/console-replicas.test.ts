import test from 'ava';
import { randomUUID } from 'node:crypto';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { bearer, createUser, json, loginAdmin, type Session } from '../../helpers/auth.ts';
import { eventually } from '../../helpers/agent-core.ts';
import { startReferenceAgent, type ReferenceAgent } from '../../helpers/reference-agent.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-database.ts';
import { expectOpen, isRefusal, type TestSocket } from '../../helpers/ws-client.ts';
import { closeAndFree, slotRows as countSlots } from '../../helpers/socket-slots.ts';
import { replicaStaleSeconds } from '../../../src/core/cluster/replica-registry.ts';
import { call, createServer, deleteAndWait, gameTestConfig, openConsole, startGameApp, waitForServer } from './game-helpers.ts';

/**
 * The console's limits across two replicas on one PostgreSQL: the per-server socket cap and
 * the server's command budget count every console, wherever it is relayed. On the embedded
 * database only one process may open it, so both names point at the same app there.
 */
let db: TestDatabase;
let agent: ReferenceAgent;
let first: TestApp;
let second: TestApp;
let owner: Session;
let serverId: string;

// The shared command budget never refills within a test (a minute per token), so counts are exact.
const consoleSettings = { max_sockets_per_server: 3, server_burst: 5, server_refill_ms: 60_000 };

test.before(async () => {
  db = await createTestDatabase();
  agent = await startReferenceAgent();
  const config = gameTestConfig('static', {}, { console: consoleSettings });
  first = await startGameApp(config, db);
  second = db.database.engine === 'postgres' ? await startGameApp(config, db) : first;
  const admin = await loginAdmin(first);
  const registered = await first.request('/api/admin/agents', bearer(admin.access_token, json({ name: 'console-replicas', base_url: agent.baseUrl, token: agent.token, kind: 'any' })));
  if (registered.status !== 201) throw new Error(`registering the agent answered ${registered.status}: ${await registered.text()}`);
  owner = await createUser(first, admin);
  serverId = (await createServer(first, owner, 'Shared world')).id;
  await waitForServer(first, owner, serverId, (s) => s.state.lifecycle === 'active', 'active');
  if ((await call(first, owner, 'POST', `/api/game/servers/${serverId}/start`)).status !== 202) throw new Error('start refused');
  await waitForServer(first, owner, serverId, (s) => s.state.status === 'running', 'running');
});

test.after.always(async () => {
  if (first && serverId) await deleteAndWait(first, owner, serverId).catch(() => undefined);
  if (second !== first) await second?.close();
  await first?.close();
  await agent?.stop();
  await db?.drop();
});

const slotKey = (): string => `game:console:${serverId}`;
const slotRows = (): Promise<number> => countSlots(db.database.knex, slotKey());

const opened = expectOpen;

const closeAll = (sockets: TestSocket[]): Promise<void> => closeAndFree(sockets, db.database.knex, slotKey(), 'console');

test.serial('the per-server cap counts consoles on both replicas; a closed console frees its place for either', async (t) => {
  const open = [opened(await openConsole(first, owner, serverId)), opened(await openConsole(second, owner, serverId)), opened(await openConsole(first, owner, serverId))];
  t.is(await slotRows(), 3);
  for (const app of [second, first]) {
    const over = await openConsole(app, owner, serverId);
    t.true(isRefusal(over) && over.status === 429 && over.body.code === 'CONSOLE_SOCKET_LIMIT', `refused on ${app === first ? 'the first' : 'the second'} replica`);
  }
  const gone = open.shift() as TestSocket;
  gone.ws.close();
  await gone.closed;
  await eventually(async () => (await slotRows()) === 2, 10_000, "the closed console's slot to be freed");
  open.push(opened(await openConsole(second, owner, serverId)));
  await closeAll(open);
});

test.serial('consoles opened all at once through both replicas never pass the cap', async (t) => {
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => openConsole(i % 2 === 0 ? first : second, owner, serverId)));
  const open = results.filter((r): r is TestSocket => !isRefusal(r));
  t.is(open.length, 3);
  for (const r of results) if (isRefusal(r)) t.is(r.body.code, 'CONSOLE_SOCKET_LIMIT');
  t.is(await slotRows(), 3);
  await closeAll(open);
});

test.serial("the server's command budget is shared by its consoles on both replicas: past it a command is dropped with a server-scoped throttle, and the socket stays open", async (t) => {
  const a = opened(await openConsole(first, owner, serverId));
  const b = opened(await openConsole(second, owner, serverId));
  const tag = randomUUID().slice(0, 8);
  // Six commands, three per socket (well inside each socket's own burst of 10), against a shared budget of five.
  for (let i = 0; i < 3; i += 1) {
    a.send({ type: 'command', command: `say ${tag}-a${i}` });
    b.send({ type: 'command', command: `say ${tag}-b${i}` });
  }
  const chat = (): Set<string> => new Set(a.frames.map((f) => String((f as { data?: string }).data)).filter((line) => line.includes(`[chat] ${tag}-`)));
  const throttled = (): Array<{ scope?: string }> => [...a.frames, ...b.frames].filter((f) => (f as { type?: string }).type === 'throttled') as Array<{ scope?: string }>;
  // Every command ends as a chat line (it reached the game server) or a throttle frame.
  await eventually(async () => chat().size + throttled().length >= 6, 15_000, 'all six commands to be decided');
  t.is(chat().size, 5);
  t.deepEqual(
    throttled().map((f) => f.scope),
    ['server'],
  );
  t.is(a.ws.readyState, a.ws.OPEN);
  t.is(b.ws.readyState, b.ws.OPEN);
  await closeAll([a, b]);
});

test.serial(`slots left by a replica that died stop counting once it is ${replicaStaleSeconds} s silent, and go when a live replica next beats`, async (t) => {
  // A replica that held three consoles of this server and was killed: its rows are still there.
  const dead = `dead-${randomUUID()}`;
  const { knex } = db.database;
  await knex('replicas').insert({ id: dead, heartbeat_at: knex.raw(`now() - make_interval(secs => ?)`, [replicaStaleSeconds + 1]) });
  await knex('socket_slots').insert([1, 2, 3].map(() => ({ slot_id: randomUUID(), key: slotKey(), replica_id: dead })));
  const socket = opened(await openConsole(second, owner, serverId));
  t.is(socket.ws.readyState, socket.ws.OPEN);
  await first.server.replicas.heartbeat();
  t.is(await slotRows(), 1, "only the live console's slot is left");
  await closeAll([socket]);
});
