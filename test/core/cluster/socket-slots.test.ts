import test from 'ava';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { Knex } from 'knex';
import { ReplicaRegistry, replicaStaleSeconds } from '../../../src/core/cluster/replica-registry.ts';
import { SocketSlots } from '../../../src/core/cluster/socket-slots.ts';
import { connectPostgres, type Database } from '../../../src/core/db/database.ts';
import { createLogger } from '../../../src/core/log/logger.ts';
import type { SlotAcquisition, SocketSlot } from '../../../src/plugin-api/limits.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-database.ts';

const log = createLogger('silent');

/** One replica as the slots see it: its registry row and its slots, on its own connection pool where the engine allows. */
interface Replica {
  registry: ReplicaRegistry;
  slots: SocketSlots;
}

function replica(db: Knex, id: string): Replica {
  const registry = new ReplicaRegistry({ db, log, replicaId: id, internalUrl: () => null });
  const slots = new SocketSlots({ db, log, replicaId: id });
  registry.onHeartbeat((beat) => slots.afterHeartbeat(beat));
  return { registry, slots };
}

let testDb: TestDatabase;
let secondPool: Database | null = null;
let db: Knex;
let otherDb: Knex;
let server: Server;
const accepted: Socket[] = [];

test.before(async () => {
  testDb = await createTestDatabase();
  db = testDb.database.knex;
  // On PostgreSQL the second replica has a pool of its own, as a second process would.
  secondPool = testDb.url ? connectPostgres(testDb.url, 5) : null;
  otherDb = secondPool?.knex ?? db;
  server = createServer((socket) => accepted.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

test.after.always(async () => {
  for (const socket of accepted) socket.destroy();
  await new Promise((resolve) => server?.close(resolve));
  await secondPool?.close();
  await testDb?.drop();
});

/** A real TCP connection: the server's side (what an upgrade's socket is) and a way to hang up from the client. */
async function connection(): Promise<{ socket: Socket; hangUp(): void }> {
  const address = server.address() as { port: number };
  const client = connect(address.port, '127.0.0.1');
  await new Promise<void>((resolve) => client.once('connect', resolve));
  let socket: Socket | undefined;
  while (!(socket = accepted.find((s) => s.remotePort === client.localPort))) await new Promise((r) => setTimeout(r, 5));
  return { socket, hangUp: () => client.destroy() };
}

async function rows(key: string): Promise<number> {
  const [row] = await db('socket_slots').where({ key }).count<Array<{ n: string | number }>>('* as n');
  return Number(row?.n);
}

async function waitForRows(key: string, n: number): Promise<void> {
  for (let i = 0; (await rows(key)) !== n; i += 1) {
    if (i > 400) throw new Error(`${key} kept ${await rows(key)} rows, expected ${n}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const slotOf = (result: SlotAcquisition): SocketSlot => {
  if (!result.ok) throw new Error(`refused: ${result.cap.key} ${result.held}`);
  return result.slot;
};

test.serial('a cap holds across two replicas; the refusal names the full cap and how many hold it; a release frees a place, and releasing twice is harmless', async (t) => {
  const a = replica(db, 'slots-a');
  const b = replica(otherDb, 'slots-b');
  await a.registry.start();
  await b.registry.start();
  try {
    const cap = { key: 'console:s1', limit: 3 };
    const first = slotOf(await a.slots.acquire([cap], (await connection()).socket));
    slotOf(await b.slots.acquire([cap], (await connection()).socket));
    slotOf(await a.slots.acquire([cap], (await connection()).socket));
    const over = await b.slots.acquire([cap], (await connection()).socket);
    t.like(over, { ok: false, cap, held: 3 });
    await first.release();
    await first.release();
    t.is(await rows(cap.key), 2);
    t.true((await b.slots.acquire([cap], (await connection()).socket)).ok, 'the freed place is taken on the other replica');
    t.false((await a.slots.acquire([{ key: 'console:s1', limit: 3 }], (await connection()).socket)).ok);
    t.true((await a.slots.acquire([{ key: 'console:s2', limit: 3 }], (await connection()).socket)).ok, 'another key counts apart');
  } finally {
    await a.slots.stop();
    await b.slots.stop();
    await a.registry.stop();
    await b.registry.stop();
  }
});

test.serial('a slot under two caps is taken under both or neither', async (t) => {
  const a = replica(db, 'slots-two-caps');
  await a.registry.start();
  try {
    const session = { key: 'vnc:session-1', limit: 5 };
    const user = { key: 'vnc:user-1', limit: 2 };
    slotOf(await a.slots.acquire([session, user], (await connection()).socket));
    slotOf(await a.slots.acquire([{ key: 'vnc:session-2', limit: 5 }, user], (await connection()).socket));
    const over = await a.slots.acquire([session, user], (await connection()).socket);
    t.like(over, { ok: false, cap: user, held: 2 });
    t.is(await rows(session.key), 1, 'the refused socket took no place under the cap that had room');
  } finally {
    await a.slots.stop();
    await a.registry.stop();
  }
});

test.serial('closing the connection frees its slot, also when it closed while the slot was being taken', async (t) => {
  const a = replica(db, 'slots-close');
  await a.registry.start();
  try {
    const cap = { key: 'ide:user-1', limit: 10 };
    const open = await connection();
    slotOf(await a.slots.acquire([cap], open.socket));
    t.is(await rows(cap.key), 1);
    open.hangUp();
    await waitForRows(cap.key, 0);

    const early = await connection();
    const taking = a.slots.acquire([cap], early.socket);
    early.hangUp();
    t.true((await taking).ok);
    await waitForRows(cap.key, 0);
    t.is(a.slots.size, 0);
  } finally {
    await a.slots.stop();
    await a.registry.stop();
  }
});

test.serial('concurrent acquires from two replicas never exceed the limit', async (t) => {
  const a = replica(db, 'slots-race-a');
  const b = replica(otherDb, 'slots-race-b');
  await a.registry.start();
  await b.registry.start();
  try {
    const cap = { key: 'console:race', limit: 7 };
    const sockets = await Promise.all(Array.from({ length: 40 }, () => connection()));
    const results = await Promise.all(sockets.map((c, i) => (i % 2 === 0 ? a : b).slots.acquire([cap], c.socket)));
    t.is(results.filter((r) => r.ok).length, 7);
    t.is(await rows(cap.key), 7);
    for (const r of results) if (!r.ok) t.is(r.held, 7);
  } finally {
    await a.slots.stop();
    await b.slots.stop();
    await a.registry.stop();
    await b.registry.stop();
  }
});

test.serial(`slots of a replica that stopped heart-beating stop counting after ${replicaStaleSeconds} s by the database clock, and go with its registry row`, async (t) => {
  const alive = replica(db, 'slots-alive');
  const killed = replica(otherDb, 'slots-killed');
  await alive.registry.start();
  // Killed: it beat, took slots, and was never heard from again.
  await killed.registry.heartbeat();
  try {
    const cap = { key: 'console:dead-holder', limit: 2 };
    slotOf(await killed.slots.acquire([cap], (await connection()).socket));
    slotOf(await killed.slots.acquire([cap], (await connection()).socket));
    t.false((await alive.slots.acquire([cap], (await connection()).socket)).ok);
    await db.raw(`UPDATE replicas SET heartbeat_at = now() - make_interval(secs => ?) WHERE id = 'slots-killed'`, [replicaStaleSeconds + 1]);
    slotOf(await alive.slots.acquire([cap], (await connection()).socket));
    t.is(await rows(cap.key), 3, "the dead replica's rows are still there, but no longer count");
    await alive.registry.heartbeat();
    t.is(await rows(cap.key), 1, 'removing its registry row removed its slots');
  } finally {
    // The killed replica's sockets still close at teardown; past stop they touch nothing.
    await killed.slots.stop();
    await alive.slots.stop();
    await alive.registry.stop();
  }
});

test.serial('a clean stop frees every slot of the replica at once', async (t) => {
  const a = replica(db, 'slots-stop');
  await a.registry.start();
  const cap = { key: 'console:stopping', limit: 5 };
  const slot = slotOf(await a.slots.acquire([cap], (await connection()).socket));
  slotOf(await a.slots.acquire([cap], (await connection()).socket));
  await a.slots.stop();
  await a.registry.stop();
  t.is(await rows(cap.key), 0);
  await slot.release();
  t.is(await rows(cap.key), 0, 'a socket closing after the stop has nothing left to free');
});

test.serial('a replica the others gave up puts the slots of its open sockets back when it beats again', async (t) => {
  const a = replica(db, 'slots-rejoin');
  await a.registry.start();
  try {
    const cap = { key: 'console:rejoin', limit: 5 };
    const kept = await connection();
    slotOf(await a.slots.acquire([cap], kept.socket));
    // Another replica's heartbeat removed its row after a long silence (its slots cascaded away).
    await db('replicas').where({ id: 'slots-rejoin' }).delete();
    t.is(await rows(cap.key), 0);
    const refusedMeanwhile = a.slots.acquire([cap], (await connection()).socket);
    await t.throwsAsync(refusedMeanwhile, { message: /replica registry/ });
    await a.registry.heartbeat();
    t.is(await rows(cap.key), 1, 'the open socket counts again');
    kept.hangUp();
    await waitForRows(cap.key, 0);
  } finally {
    await a.slots.stop();
    await a.registry.stop();
  }
});
