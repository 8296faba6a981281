import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startFakeAgents } from '../test/fakes/fake-agents.ts';
import { option } from './lib/bench-server.ts';
import { recordBenchInstances } from './lib/bench-instances.ts';
import { checkJobLedger } from './lib/job-ledger-check.ts';
import { isSteady, movedBetween, overlapIn, ownersIn, PollLog, takeoverOf } from './lib/poll-log.ts';
import { createScratchDatabase } from './lib/scratch-database.ts';
import { TakeoverReplicas, type Replica } from './lib/takeover-replicas.ts';

const help = `Usage: npm run bench:takeover -- --database-url URL [--replicas N] [--agents N] [--poll-interval-ms MS] [--rounds N]

Measures poll ownership across replicas on one PostgreSQL. Creates a scratch database on the
server --database-url names (dropped at the end), starts N API replicas on it (real server
processes, npm start's node flags), and N fake agents in this process answering /health,
/ready and /status as the reference agent does; each agent records which replica polled it
(the X-Panel-Replica header every agent call carries) and when. Once polling is steady (each
instance polled by exactly one replica), each round:
  1. SIGKILLs one replica (a crash),
  2. starts a new one (a replica joining),
  3. SIGTERMs another (a clean stop),
  4. starts a new one again,
waiting after each step until polling is steady again, and reports for each step:
  - takeover: from the signal until every instance the leaving replica polled has been
    polled by a survivor (ms, and poll intervals; goal: within 3), and the longest any of
    them went unpolled;
  - join: from the new replica's first poll until it has polled its whole share;
  - overlap: the longest time one instance was polled by two replicas at once after the
    change (a replica counts as polling an instance from the first to the last of a run of
    its polls no more than 1.5 intervals apart; goal: under 1 interval);
  - moved: instances that changed hands between replicas that neither left nor joined.
At the end it reads the jobs' run ledger (job_runs): every once-across-replicas job must have
claimed each slot of the run once, with no slot missing, and no replica may have counted more
runs (its metrics, read before it stopped) than the slots it claimed.
Progress goes to stdout; the last line is one JSON object with every figure.

Options:
  --database-url <url>      a PostgreSQL server (any database on it) whose user may CREATE DATABASE (required)
  --replicas <n>            replicas polling at once (default 3)
  --agents <n>              fake agents, one instance each (default 3000)
  --poll-interval-ms <ms>   agents.poll_interval_ms of every replica (default 10000, the shipped default)
  --rounds <n>              rounds of kill, join, stop, join (default 1)
  -h, --help                show this help
`;

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(help);
  process.exit(0);
}
const serverUrl = option(args, '--database-url');
const replicaCount = Number(option(args, '--replicas') ?? 3);
const agentCount = Number(option(args, '--agents') ?? 3000);
const intervalMs = Number(option(args, '--poll-interval-ms') ?? 10_000);
const rounds = Number(option(args, '--rounds') ?? 1);
if (!serverUrl || !(replicaCount >= 2) || !(agentCount >= 1) || !(intervalMs >= 500) || !(rounds >= 1)) {
  process.stderr.write(`${serverUrl ? 'needs --replicas >= 2, --agents >= 1, --poll-interval-ms >= 500, --rounds >= 1' : '--database-url is required'}\n\n${help}`);
  process.exit(2);
}

const say = (line: string): void => void process.stdout.write(`${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const intervals = (ms: number): number => Number((ms / intervalMs).toFixed(2));
/** A window of one interval plus the polls' ±10 % jitter. */
const windowMs = 1.25 * intervalMs;
const giveUpMs = 20 * intervalMs;

const log = new PollLog();
const fakes = await startFakeAgents({
  onRequest: (agentId, route, headers) => {
    const replica = headers['x-panel-replica'];
    if (route === 'GET /health' && typeof replica === 'string') log.record(agentId, replica, Date.now());
  },
});
const agents = Array.from({ length: agentCount }, () => fakes.add());
const ids = agents.map((a) => a.id);
const scratch = await createScratchDatabase(serverUrl, 'panel_takeover');
const encryptionKey = randomBytes(32).toString('base64url');
const replicas = new TakeoverReplicas(scratch.url, { ENCRYPTION_KEY: encryptionKey, PROVISIONER: 'static', PANEL_AGENTS_POLL_INTERVAL_MS: String(intervalMs) }, randomBytes(16).toString('hex'));
const db = new pg.Client({ connectionString: scratch.url });

/** Waits until, over the last window (all of it after `since`), every instance was polled by exactly one replica. */
async function steady(since: number): Promise<{ at: number; owners: Map<string, string | null> }> {
  const deadline = Date.now() + giveUpMs;
  for (;;) {
    const now = Date.now();
    if (now - windowMs >= since) {
      const owners = ownersIn(log, ids, now - windowMs, now);
      if (isSteady(owners)) return { at: now, owners };
    }
    if (now > deadline) throw new Error(`polling was not steady within ${giveUpMs} ms`);
    await sleep(500);
  }
}

const shares = (owners: Map<string, string | null>): string => replicas.live.map((r) => `${r.label} ${[...owners.values()].filter((o) => o === r.id).length}`).join(', ');

interface Step {
  step: 'sigkill' | 'sigterm' | 'join';
  replica: string;
  instances: number;
  /** Takeover (leaving) or the joiner's whole share polled (joining), from the signal or its first poll. */
  takeover_ms: number;
  takeover_intervals: number;
  longest_gap_ms: number | null;
  overlap_ms: number;
  overlap_intervals: number;
  overlap_instances: number;
  moved: number;
  settled_ms: number;
  exit_ms?: number;
}

async function leave(victim: Replica, signal: 'SIGKILL' | 'SIGTERM', before: Map<string, string | null>): Promise<{ step: Step; owners: Map<string, string | null>; at: number }> {
  await replicas.scrapeJobRuns(victim);
  const owned = ids.filter((id) => before.get(id) === victim.id);
  say(`${signal} ${victim.label} (pid ${victim.server.pid}), which polls ${owned.length} instances`);
  const { at, exited } = replicas.signal(victim, signal);
  let exitMs: number | undefined;
  void exited.then((t) => (exitMs = t - at));
  let result = takeoverOf(log, owned, victim.id, at, Date.now());
  while (result.pending > 0) {
    if (Date.now() - at > giveUpMs) throw new Error(`${result.pending} of ${owned.length} instances not taken over after ${giveUpMs} ms`);
    await sleep(200);
    result = takeoverOf(log, owned, victim.id, at, Date.now());
  }
  say(`  taken over in ${result.takeover_ms} ms (${intervals(result.takeover_ms)} intervals); longest unpolled ${result.longest_gap_ms} ms`);
  await exited;
  const after = await steady(at);
  const overlap = overlapIn(log, ids, at, after.at, intervalMs);
  const moved = movedBetween(before, after.owners, new Set([victim.id]));
  say(`  steady after ${after.at - at} ms: ${shares(after.owners)}; overlap ${overlap.longest_ms} ms on ${overlap.instances} instances; ${moved} moved between survivors`);
  return {
    at: after.at,
    owners: after.owners,
    step: {
      step: signal === 'SIGKILL' ? 'sigkill' : 'sigterm',
      replica: victim.label,
      instances: owned.length,
      takeover_ms: result.takeover_ms,
      takeover_intervals: intervals(result.takeover_ms),
      longest_gap_ms: result.longest_gap_ms,
      overlap_ms: overlap.longest_ms,
      overlap_intervals: intervals(overlap.longest_ms),
      overlap_instances: overlap.instances,
      moved,
      settled_ms: after.at - at,
      exit_ms: exitMs,
    },
  };
}

async function join(before: Map<string, string | null>): Promise<{ step: Step; owners: Map<string, string | null>; at: number }> {
  const asked = Date.now();
  const joiner = await replicas.start();
  say(`${joiner.label} joined (booted in ${Date.now() - asked} ms)`);
  const after = await steady(Date.now());
  const mine = ids.filter((id) => after.owners.get(id) === joiner.id);
  const firsts = mine.map((id) => log.between(id, asked, after.at).find((p) => p.by === joiner.id)?.at ?? after.at);
  const firstPoll = Math.min(...ids.map((id) => log.between(id, asked, after.at).find((p) => p.by === joiner.id)?.at ?? Infinity));
  const whole = Math.max(...firsts) - firstPoll;
  const overlap = overlapIn(log, ids, firstPoll, after.at, intervalMs);
  const moved = movedBetween(before, after.owners, new Set([joiner.id]));
  say(
    `  its ${mine.length} instances all polled ${whole} ms after its first poll; steady: ${shares(after.owners)}; overlap ${overlap.longest_ms} ms on ${overlap.instances} instances; ${moved} moved between the others`,
  );
  return {
    at: after.at,
    owners: after.owners,
    step: {
      step: 'join',
      replica: joiner.label,
      instances: mine.length,
      takeover_ms: whole,
      takeover_intervals: intervals(whole),
      longest_gap_ms: null,
      overlap_ms: overlap.longest_ms,
      overlap_intervals: intervals(overlap.longest_ms),
      overlap_instances: overlap.instances,
      moved,
      settled_ms: after.at - firstPoll,
    },
  };
}

const steps: Step[] = [];
let runStart = 0;
let jobs: Awaited<ReturnType<typeof checkJobLedger>> = [];
try {
  try {
    for (let i = 0; i < replicaCount; i += 1) {
      const r = await replicas.start();
      say(`${r.label} started (${r.id}) at ${r.server.url}`);
    }
    await db.connect();
    await recordBenchInstances(db, encryptionKey, agents);
    runStart = Date.now();
    say(`${agentCount} active instances recorded; ${replicaCount} replicas polling every ${intervalMs} ms`);
    let state = await steady(runStart);
    say(`steady after ${state.at - runStart} ms: ${shares(state.owners)}`);
    for (let round = 1; round <= rounds; round += 1) {
      say(`round ${round}`);
      for (const move of ['SIGKILL', 'join', 'SIGTERM', 'join'] as const) {
        const live = replicas.live;
        const next = move === 'join' ? await join(state.owners) : await leave(live[move === 'SIGKILL' ? 1 % live.length : 0] as Replica, move, state.owners);
        steps.push(next.step);
        state = next;
      }
    }
    for (const r of replicas.live) await replicas.scrapeJobRuns(r);
  } finally {
    await replicas.stopAll();
  }
  // Read once every replica has stopped: a clean stop records the outcome of what it was running.
  jobs = await checkJobLedger(db, new Date(runStart), new Date(), replicas.all);
} finally {
  await db.end().catch(() => undefined);
  await scratch.drop();
  await fakes.close();
}

say('\njob                         every ms  slots  missing  unfinished  runs beyond claims  by replica');
for (const j of jobs)
  say(
    `${j.job.padEnd(27)} ${String(j.period_ms).padStart(8)} ${String(j.slots).padStart(6)} ${String(j.missing).padStart(8)} ${String(j.unfinished).padStart(11)} ${String(j.runs_beyond_claims).padStart(19)}  ${Object.entries(
      j.by_replica,
    )
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
const of = (kind: Step['step']): Step[] => steps.filter((s) => s.step === kind);
const max = (xs: number[]): number => Math.max(0, ...xs);
const figures = {
  bench: 'takeover',
  replicas: replicaCount,
  agents: agentCount,
  interval_ms: intervalMs,
  rounds,
  sigkill_takeover_ms: of('sigkill').map((s) => s.takeover_ms),
  sigterm_takeover_ms: of('sigterm').map((s) => s.takeover_ms),
  join_share_polled_ms: of('join').map((s) => s.takeover_ms),
  takeover_max_intervals: intervals(max([...of('sigkill'), ...of('sigterm')].map((s) => s.takeover_ms))),
  longest_unpolled_ms: max(steps.map((s) => s.longest_gap_ms ?? 0)),
  overlap_max_ms: max(steps.map((s) => s.overlap_ms)),
  overlap_max_intervals: intervals(max(steps.map((s) => s.overlap_ms))),
  moved_max: max(steps.map((s) => s.moved)),
  jobs_once_per_slot: jobs.every((j) => j.missing === 0 && j.runs_beyond_claims === 0),
  jobs,
  steps,
};
say(JSON.stringify(figures));
process.exit(0);
