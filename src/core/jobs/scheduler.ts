import cron, { type ScheduledTask } from 'node-cron';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Knex } from 'knex';
import type { Logger } from '../log/logger.ts';
import type { JobDefinition, JobOutcome } from './job.ts';
import { claimSlot, recordOutcome } from './run-ledger.ts';

interface JobState {
  job: JobDefinition;
  running: Promise<void> | null;
  aborter: AbortController | null;
  timer: NodeJS.Timeout | null;
  task: ScheduledTask | null;
}

export interface SchedulerDeps {
  knex: Knex;
  log: Logger;
  registry: Registry;
  /** Written into the run ledger so an operator can see which replica ran a slot. */
  replicaId: string;
  /** False while the database server does not answer: slots are skipped (every job needs it), not failed once a second. */
  databaseUp?: () => boolean;
}

/**
 * When a successful run counts as long, and is logged at info rather than debug: 1 s, or a
 * quarter of the interval of a job that runs more often than every 4 s (a 1 s poll taking
 * 250 ms is already eating its own schedule).
 */
export function longRunMs(job: Pick<JobDefinition, 'every_ms'>): number {
  return job.every_ms === undefined ? 1_000 : Math.min(1_000, job.every_ms / 4);
}

const jobIdPattern = /^[a-z][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)+$/;

/**
 * Runs declared jobs: never two runs of one job at once, every run timed out, logged and
 * counted, runs aborted on shutdown, and `once_across_replicas` slots claimed in the ledger.
 */
export class Scheduler {
  private readonly jobs = new Map<string, JobState>();
  private readonly runs: Counter<'job' | 'outcome'>;
  private readonly duration: Histogram<'job'>;
  private started = false;
  private stopping = false;

  constructor(private readonly deps: SchedulerDeps) {
    this.runs = new Counter({ name: 'panel_job_runs_total', help: 'Scheduled job runs by outcome', labelNames: ['job', 'outcome'], registers: [deps.registry] });
    this.duration = new Histogram({
      name: 'panel_job_duration_seconds',
      help: 'Scheduled job run time',
      labelNames: ['job'],
      registers: [deps.registry],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300],
    });
  }

  add(job: JobDefinition): void {
    if (!jobIdPattern.test(job.id)) throw new Error(`Job id "${job.id}" must be dotted lower-case, like "core.prune-rate-limits"`);
    if (this.jobs.has(job.id)) throw new Error(`Job "${job.id}" is declared twice`);
    if ((job.every_ms === undefined) === (job.cron === undefined)) throw new Error(`Job "${job.id}" needs exactly one of every_ms or cron`);
    if (job.every_ms !== undefined && !(Number.isInteger(job.every_ms) && job.every_ms >= 100)) throw new Error(`Job "${job.id}": every_ms must be an integer of at least 100`);
    if (job.cron !== undefined && !cron.validate(job.cron)) throw new Error(`Job "${job.id}": "${job.cron}" is not a valid cron expression`);
    if (!(job.timeout_ms > 0)) throw new Error(`Job "${job.id}": timeout_ms must be positive`);
    this.jobs.set(job.id, { job, running: null, aborter: null, timer: null, task: null });
  }

  has(id: string): boolean {
    return this.jobs.has(id);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    for (const state of this.jobs.values()) {
      if (state.job.every_ms !== undefined) this.armInterval(state, state.job.every_ms);
      else if (state.job.cron !== undefined) {
        state.task = cron.schedule(
          state.job.cron,
          (ctx) => {
            void this.fire(state.job.id, new Date(Math.floor(ctx.date.getTime() / 1000) * 1000));
          },
          { name: state.job.id },
        );
      }
    }
  }

  /** Slots are aligned to the epoch; each is after the previous one even if the clock steps back or a timer fires early. */
  private armInterval(state: JobState, every: number, lastSlot = 0): void {
    if (this.stopping) return;
    const now = Date.now();
    const next = Math.max((Math.floor(now / every) + 1) * every, lastSlot + every);
    state.timer = setTimeout(
      () => {
        void this.fire(state.job.id, new Date(next));
        this.armInterval(state, every, next);
      },
      Math.max(0, next - now),
    );
    state.timer.unref();
  }

  /** Runs one slot of a job now. Timers call this; so can tests and admin triggers. */
  async fire(id: string, slot: Date): Promise<JobOutcome> {
    const state = this.jobs.get(id);
    if (!state) throw new Error(`No job "${id}"`);
    const log = this.deps.log.child({ job: id, slot: slot.toISOString() });
    if (this.stopping) return 'skipped_overlap';
    if (this.deps.databaseUp && !this.deps.databaseUp()) {
      this.runs.inc({ job: id, outcome: 'skipped_database_down' });
      log.debug('database unavailable; slot skipped');
      return 'skipped_database_down';
    }
    if (state.running) {
      this.runs.inc({ job: id, outcome: 'skipped_overlap' });
      log.debug('previous run still going; slot skipped');
      return 'skipped_overlap';
    }
    const aborter = new AbortController();
    let release: () => void = () => {};
    state.aborter = aborter;
    state.running = new Promise<void>((resolve) => {
      release = resolve;
    });
    try {
      if (state.job.once_across_replicas) {
        const claimed = await claimSlot(this.deps.knex, id, slot, this.deps.replicaId);
        if (!claimed) {
          this.runs.inc({ job: id, outcome: 'skipped_claimed' });
          log.debug('slot already claimed by another replica');
          return 'skipped_claimed';
        }
      }
      return await this.execute(state, slot, aborter, log);
    } catch (err) {
      this.runs.inc({ job: id, outcome: 'failed' });
      log.error({ err }, 'job could not start');
      return 'failed';
    } finally {
      state.running = null;
      state.aborter = null;
      release();
    }
  }

  private async execute(state: JobState, slot: Date, aborter: AbortController, log: Logger): Promise<JobOutcome> {
    const { job } = state;
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), job.timeout_ms);
    });
    const body = job.run({ signal: aborter.signal, slot, log }).then(
      () => 'ok' as const,
      (err: unknown) => err,
    );
    // The outcome is settled at the deadline even if the job ignores its signal; the slot stays
    // busy (no overlap) until the body really returns.
    const first = await Promise.race([body, deadline]);
    clearTimeout(timer);
    let outcome: JobOutcome = 'ok';
    let error: string | null = null;
    if (first === 'timeout') {
      outcome = 'timeout';
      error = `timed out after ${job.timeout_ms} ms`;
      aborter.abort(new Error(`job ${job.id} ${error}`));
      log.error({ timeout_ms: job.timeout_ms }, 'job run timed out');
    } else if (first !== 'ok') {
      outcome = 'failed';
      error = first instanceof Error ? first.message : String(first);
      log.error({ err: first }, 'job run failed');
    }
    const ms = performance.now() - started;
    this.runs.inc({ job: job.id, outcome });
    this.duration.observe({ job: job.id }, ms / 1000);
    const long = longRunMs(job);
    const fields = { outcome, duration_ms: Math.round(ms), ...(ms >= long ? { long_run_ms: long } : {}) };
    // A run that went as usual is noise at info (most lines of a quiet hour were these); one that failed or took long is not.
    if (outcome === 'ok' && ms < long) log.debug(fields, 'job run');
    else log.info(fields, 'job run');
    if (job.once_across_replicas) {
      await recordOutcome(this.deps.knex, job.id, slot, outcome, ms, error).catch((err: unknown) => log.warn({ err }, 'could not record job outcome'));
    }
    await body;
    return outcome;
  }

  /** Stops timers, aborts running jobs and waits for them, at most `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    const running: Promise<void>[] = [];
    for (const state of this.jobs.values()) {
      if (state.timer) clearTimeout(state.timer);
      if (state.task) await state.task.destroy();
      state.aborter?.abort(new Error('shutting down'));
      if (state.running) running.push(state.running);
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(running),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
  }
}
