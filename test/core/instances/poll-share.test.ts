import test from 'ava';
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { Registry } from 'prom-client';
import { ReplicaRegistry, replicaStaleSeconds } from '../../../src/core/cluster/replica-registry.ts';
import { SecretBox } from '../../../src/core/crypto/secret-box.ts';
import { EventBus } from '../../../src/core/events/event-bus.ts';
import { EventCatalogue } from '../../../src/core/events/event-catalogue.ts';
import { Poller } from '../../../src/core/instances/poller.ts';
import { createLogger } from '../../../src/core/log/logger.ts';
import { testAgentClient } from '../../helpers/agent-client.ts';
import { createTestDatabase, testEngine } from '../../helpers/test-database.ts';

const log = createLogger('silent');
const box = new SecretBox(randomBytes(32).toString('base64url'));

/** One replica in this process: its registry entry and its poller (which is never ticked: only its share is looked at). */
function replica(db: Knex, id: string): { registry: ReplicaRegistry; poller: Poller } {
  const bus = new EventBus({ db, listenUrl: null, catalogue: new EventCatalogue(), log });
  const poller = new Poller({
    db,
    client: testAgentClient(),
    box,
    bus,
    log,
    settings: { intervalMs: 10_000, concurrency: 8, suspectConcurrency: 8, maxBackoffMs: 60_000 },
    replicaId: id,
    registry: new Registry(),
  });
  return { registry: new ReplicaRegistry({ db, log, replicaId: id, internalUrl: () => null }), poller };
}

async function recordInstances(db: Knex, count: number): Promise<string[]> {
  const [owner] = await db('users')
    .insert({ username: `share-${randomBytes(4).toString('hex')}`, email: `${randomBytes(4).toString('hex')}@example.test`, password_hash: 'x' })
    .returning<Array<{ id: string }>>('id');
  const rows = Array.from({ length: count }, (_x, n) => ({
    owner_id: owner?.id,
    kind: 'game',
    plugin: 'test',
    name: `share-${n}`,
    lifecycle: 'active',
    provisioner: 'static',
    agent_base_url: `http://127.0.0.1:9/a/${n}`,
    agent_token_encrypted: box.seal(`token-for-agent-${n}`),
  }));
  const inserted = await db('instances').insert(rows).returning<Array<{ id: string }>>('id');
  return inserted.map((r) => r.id);
}

/** What each poller polls after a reload, as sets of instance ids. */
async function sharesOf(ids: string[], pollers: Poller[]): Promise<Array<Set<string>>> {
  for (const p of pollers) await p.reload();
  return pollers.map((p) => new Set(ids.filter((id) => p.cached(id) !== undefined)));
}

function assertPartition(t: { deepEqual: (a: unknown, b: unknown, m?: string) => void; true: (v: boolean, m?: string) => void }, ids: string[], shares: Array<Set<string>>): void {
  const counted = new Map<string, number>();
  for (const share of shares) for (const id of share) counted.set(id, (counted.get(id) ?? 0) + 1);
  t.deepEqual([...counted.keys()].sort(), [...ids].sort(), 'every instance is in a share');
  t.deepEqual(
    [...counted.entries()].filter(([, n]) => n > 1),
    [],
    'no instance is in two shares',
  );
  t.true(
    shares.every((s) => s.size > 0),
    `every live replica has a share: ${shares.map((s) => s.size).join(', ')}`,
  );
}

const subset = (a: Set<string>, b: Set<string>): boolean => [...a].every((id) => b.has(id));

test(`a dead replica's share goes to the survivors, who keep their own; a joining one takes only its share; never an instance in two shares (${testEngine})`, async (t) => {
  const testDb = await createTestDatabase();
  const db = testDb.database.knex;
  try {
    const ids = await recordInstances(db, 150);
    const [a, b, c] = [replica(db, 'replica-a'), replica(db, 'replica-b'), replica(db, 'replica-c')];
    for (const r of [a, b, c]) await r.registry.heartbeat();
    const [aBefore, bBefore, cBefore] = await sharesOf(ids, [a.poller, b.poller, c.poller]);
    assertPartition(t, ids, [aBefore, bBefore, cBefore] as Array<Set<string>>);

    // c is killed: it never beats again, and its last beat is past the window (the clock moved, not waited for).
    await db.raw(`UPDATE replicas SET heartbeat_at = now() - make_interval(secs => ?) WHERE id = 'replica-c'`, [replicaStaleSeconds + 1]);
    const [aAfter, bAfter] = await sharesOf(ids, [a.poller, b.poller]);
    assertPartition(t, ids, [aAfter, bAfter] as Array<Set<string>>);
    t.true(
      subset(aBefore as Set<string>, aAfter as Set<string>) && subset(bBefore as Set<string>, bAfter as Set<string>),
      "the survivors keep what they polled: only the dead replica's instances move",
    );
    t.true(subset(cBefore as Set<string>, new Set([...(aAfter as Set<string>), ...(bAfter as Set<string>)])));

    // d joins: it takes a share, and the instances it takes are the only ones that move.
    const d = replica(db, 'replica-d');
    await d.registry.heartbeat();
    const [aJoined, bJoined, dJoined] = await sharesOf(ids, [a.poller, b.poller, d.poller]);
    assertPartition(t, ids, [aJoined, bJoined, dJoined] as Array<Set<string>>);
    t.true(subset(aJoined as Set<string>, aAfter as Set<string>) && subset(bJoined as Set<string>, bAfter as Set<string>), 'a joining replica takes instances, it does not re-deal the others');

    // A clean stop removes the row: its share moves at the next reload, no window to wait out.
    await b.registry.stop();
    const [aLast, dLast] = await sharesOf(ids, [a.poller, d.poller]);
    assertPartition(t, ids, [aLast, dLast] as Array<Set<string>>);
    for (const p of [a, b, c, d]) await p.poller.stop();
  } finally {
    await testDb.drop();
  }
});
