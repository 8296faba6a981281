import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import pg from 'pg';
import { recordBenchInstances } from '../../scripts/lib/bench-instances.ts';
import { checkJobLedger } from '../../scripts/lib/job-ledger-check.ts';
import { isSteady, ownersIn, overlapIn, PollLog, takeoverOf } from '../../scripts/lib/poll-log.ts';
import { TakeoverReplicas } from '../../scripts/lib/takeover-replicas.ts';
import { startFakeAgents } from '../fakes/fake-agents.ts';
import { createPostgresDatabase } from '../helpers/test-database.ts';

/**
 * Poll ownership with real replica processes, as `npm run bench:takeover` measures it at scale
 * (3,000 agents; README "Measured"): here three replicas and 300 fake agents that record which
 * replica polled them (the X-Panel-Replica header). On PostgreSQL on both runs of the suite:
 * several processes cannot share the embedded database.
 */
const intervalMs = 3_000;
const windowMs = 1.25 * intervalMs;

test("a SIGKILLed replica's instances are polled by the others within 3 intervals, a joining one shares without double polling past an interval, and jobs run once per slot", async (t) => {
  const log = new PollLog();
  const fakes = await startFakeAgents({
    onRequest: (agentId, route, headers) => {
      const replica = headers['x-panel-replica'];
      if (route === 'GET /health' && typeof replica === 'string') log.record(agentId, replica, Date.now());
    },
  });
  const agents = Array.from({ length: 300 }, () => fakes.add());
  const ids = agents.map((a) => a.id);
  const database = await createPostgresDatabase();
  const encryptionKey = randomBytes(32).toString('base64url');
  const replicas = new TakeoverReplicas(
    database.url as string,
    { ENCRYPTION_KEY: encryptionKey, PROVISIONER: 'static', PANEL_AGENTS_POLL_INTERVAL_MS: String(intervalMs) },
    randomBytes(16).toString('hex'),
  );
  const db = new pg.Client({ connectionString: database.url as string });
  const steady = async (since: number): Promise<{ at: number; owners: Map<string, string | null> }> => {
    for (const deadline = Date.now() + 20 * intervalMs; ; await sleep(250)) {
      const now = Date.now();
      const owners = ownersIn(log, ids, now - windowMs, now);
      if (now - windowMs >= since && isSteady(owners)) return { at: now, owners };
      if (now > deadline) throw new Error('polling never settled with one replica per instance');
    }
  };
  let runStart = 0;
  try {
    await Promise.all([replicas.start(), replicas.start(), replicas.start()]);
    await db.connect();
    await recordBenchInstances(db, encryptionKey, agents);
    runStart = Date.now();
    const before = await steady(runStart);
    t.is(new Set(before.owners.values()).size, 3, 'every replica polls a share');

    const victim = replicas.live[1] as (typeof replicas.live)[number];
    const owned = ids.filter((id) => before.owners.get(id) === victim.id);
    const { at } = replicas.signal(victim, 'SIGKILL');
    let takeover = takeoverOf(log, owned, victim.id, at, Date.now());
    while (takeover.pending > 0 && Date.now() - at < 10 * intervalMs) {
      await sleep(100);
      takeover = takeoverOf(log, owned, victim.id, at, Date.now());
    }
    t.is(takeover.pending, 0, 'every instance of the killed replica was polled again');
    t.true(takeover.takeover_ms <= 3 * intervalMs, `taken over in ${takeover.takeover_ms} ms (${(takeover.takeover_ms / intervalMs).toFixed(2)} intervals)`);
    const afterKill = await steady(at);

    const joined = Date.now();
    const joiner = await replicas.start();
    const afterJoin = await steady(Date.now());
    t.true([...afterJoin.owners.values()].includes(joiner.id), 'the joiner polls a share');
    const overlap = overlapIn(log, ids, joined, afterJoin.at, intervalMs);
    t.true(overlap.longest_ms < intervalMs, `polled by two replicas for at most ${overlap.longest_ms} ms`);
    t.log(`takeover ${takeover.takeover_ms} ms of ${owned.length} instances; settled ${afterKill.at - at} ms; join overlap ${overlap.longest_ms} ms on ${overlap.instances}`);
    // Long enough for the 5 s jobs to have several whole slots across the kill and the join.
    await sleep(Math.max(0, runStart + 20_000 - Date.now()));
    for (const r of replicas.live) await replicas.scrapeJobRuns(r);
  } finally {
    await replicas.stopAll();
  }
  try {
    const jobs = await checkJobLedger(db, new Date(runStart), new Date(), replicas.all);
    t.true(
      jobs.some((j) => j.slots >= 2),
      `once-per-slot jobs ran: ${jobs.map((j) => `${j.job} ${j.slots}`).join(', ')}`,
    );
    for (const j of jobs) t.true(j.missing === 0 && j.runs_beyond_claims === 0, `${j.job}: ${j.slots} slots, ${j.missing} missing, ${j.runs_beyond_claims} runs beyond claims`);
  } finally {
    await db.end();
    await database.drop();
    await fakes.close();
  }
});
