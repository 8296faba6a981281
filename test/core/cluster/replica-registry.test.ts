import test from 'ava';
import type { Knex } from 'knex';
import { ReplicaRegistry, replicaStaleSeconds } from '../../../src/core/cluster/replica-registry.ts';
import { createLogger } from '../../../src/core/log/logger.ts';
import { startTestApp } from '../../helpers/start-test-app.ts';
import { createTestDatabase, testEngine } from '../../helpers/test-database.ts';
import { eventually } from '../../helpers/agent-core.ts';

const log = createLogger('silent');
const registry = (db: Knex, replicaId: string, url: string | null): ReplicaRegistry => new ReplicaRegistry({ db, log, replicaId, internalUrl: () => url });

test('replicas on one database see each other with their internal addresses; a stopped one leaves at once', async (t) => {
  const testDb = await createTestDatabase();
  const db = testDb.database.knex;
  const a = registry(db, 'replica-a', 'http://10.0.0.1:8080');
  const b = registry(db, 'replica-b', 'http://10.0.0.2:8080');
  try {
    await a.start();
    await b.start();
    const live = await a.live();
    t.deepEqual(
      live.map((r) => [r.id, r.internal_url]),
      [
        ['replica-a', 'http://10.0.0.1:8080'],
        ['replica-b', 'http://10.0.0.2:8080'],
      ],
    );
    await b.stop();
    t.deepEqual(
      (await a.live()).map((r) => r.id),
      ['replica-a'],
    );
  } finally {
    await a.stop().catch(() => undefined);
    await testDb.drop();
  }
});

test(`a replica that stops heart-beating (killed) is no longer live after ${replicaStaleSeconds} s by the database clock, and the next heartbeat of another removes its row`, async (t) => {
  const testDb = await createTestDatabase();
  const db = testDb.database.knex;
  const alive = registry(db, 'alive', null);
  // A replica killed with SIGKILL: it beat once and never again, and never removed its row.
  const killed = registry(db, 'killed', 'http://10.0.0.9:8080');
  try {
    await alive.start();
    await killed.heartbeat();
    t.deepEqual((await alive.live()).map((r) => r.id).sort(), ['alive', 'killed']);
    // Its last beat is now just past the window (moving the row's clock instead of waiting).
    await db.raw(`UPDATE replicas SET heartbeat_at = now() - make_interval(secs => ?) WHERE id = 'killed'`, [replicaStaleSeconds + 1]);
    t.deepEqual(
      (await alive.live()).map((r) => r.id),
      ['alive'],
    );
    t.truthy(await db('replicas').where({ id: 'killed' }).first(), 'the row stays until some replica beats');
    await alive.heartbeat();
    t.falsy(await db('replicas').where({ id: 'killed' }).first());
    // Just inside the window, a replica still counts: a slow beat does not make it leave.
    await killed.heartbeat();
    await db.raw(`UPDATE replicas SET heartbeat_at = now() - make_interval(secs => ?) WHERE id = 'killed'`, [replicaStaleSeconds - 2]);
    t.deepEqual((await alive.live()).map((r) => r.id).sort(), ['alive', 'killed']);
  } finally {
    await alive.stop().catch(() => undefined);
    await testDb.drop();
  }
});

test('a server records itself in the registry with the address it listens on, or cluster.internal_url, and leaves it on shutdown', async (t) => {
  const app = await startTestApp();
  const named = await startTestApp({ config: { cluster: { internal_url: 'http://api-2.internal:8080' } } });
  try {
    await app.server.replicas.heartbeat();
    await named.server.replicas.heartbeat();
    const mine = (await app.server.replicas.live()).find((r) => r.id === app.server.replicas.replicaId);
    t.is(mine?.internal_url, app.url);
    const theirs = (await named.server.replicas.live()).find((r) => r.id === named.server.replicas.replicaId);
    t.is(theirs?.internal_url, 'http://api-2.internal:8080');
    const db = app.testDatabase.database.knex;
    await app.server.shutdown('test');
    t.falsy(await db('replicas').where({ id: app.server.replicas.replicaId }).first());
  } finally {
    await app.close();
    await named.close();
  }
});

// Only PostgreSQL has sessions to lose: the embedded database serves one process (and its
// registry holds no lock; the tests above are its whole behaviour).
if (testEngine === 'postgres') {
  test('a replica whose database session ends (a killed process) leaves at once, its heartbeat still fresh; alive after all, it takes a new lock at its next beat', async (t) => {
    const testDb = await createTestDatabase();
    const db = testDb.database.knex;
    // No timer beats during the test: each heartbeat is called by hand.
    const locked = (id: string): ReplicaRegistry => new ReplicaRegistry({ db, log, replicaId: id, internalUrl: () => null, lockUrl: testDb.url, heartbeatMs: 3_600_000 });
    const survivor = locked('survivor');
    const killed = locked('killed');
    try {
      await survivor.start();
      await killed.start();
      t.deepEqual((await survivor.live()).map((r) => r.id).sort(), ['killed', 'survivor']);
      // What PostgreSQL sees of a SIGKILL: the replica's connection closes and its session ends.
      await db.raw(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'panel replica killed' AND datname = current_database()`);
      await eventually(async () => (await survivor.live()).every((r) => r.id !== 'killed'), 10_000, 'the killed replica to leave');
      const row = await db('replicas')
        .where({ id: 'killed' })
        .first<{ fresh: boolean } | undefined>(db.raw(`heartbeat_at > now() - make_interval(secs => ?) AS fresh`, [replicaStaleSeconds]));
      t.true(row?.fresh, 'it left by its session, not by its heartbeat going stale');
      await survivor.heartbeat();
      t.falsy(await db('replicas').where({ id: 'killed' }).first(), 'the next heartbeat of another removes its row');
      // A replica that only lost its connection (a database restart) is back at its next beat.
      await killed.heartbeat();
      t.deepEqual((await survivor.live()).map((r) => r.id).sort(), ['killed', 'survivor']);
    } finally {
      await killed.stop().catch(() => undefined);
      await survivor.stop().catch(() => undefined);
      await testDb.drop();
    }
  });
}
