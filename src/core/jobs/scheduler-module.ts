import type { Knex } from 'knex';
import type { Registry } from 'prom-client';
import type { Logger } from '../log/logger.ts';
import type { CoreModule } from '../boot/core-module.ts';
import type { JobDefinition } from './job.ts';
import { Scheduler } from './scheduler.ts';
import { pruneJobLedgerJob } from './jobs/prune-job-ledger.ts';

export interface SchedulerModule extends CoreModule {
  scheduler: Scheduler;
  /** Registers every module's jobs; called once all modules are built. */
  schedule: (jobs: readonly JobDefinition[]) => void;
}

/** Runs every module's jobs on their schedules; the last module to start, so jobs see a running server. */
export function createSchedulerModule(options: { db: Knex; log: Logger; registry: Registry; replicaId: string; databaseUp?: () => boolean }): SchedulerModule {
  const scheduler = new Scheduler({ knex: options.db, log: options.log.child({ component: 'scheduler' }), registry: options.registry, replicaId: options.replicaId, databaseUp: options.databaseUp });
  return {
    name: 'scheduler',
    scheduler,
    jobs: [pruneJobLedgerJob(options.db)],
    schedule: (jobs) => {
      for (const job of jobs) scheduler.add(job);
    },
    start: async () => scheduler.start(),
    // Running jobs finish (or are aborted at the deadline) while in-flight requests drain.
    drain: (graceMs) => scheduler.stop(graceMs),
  };
}
