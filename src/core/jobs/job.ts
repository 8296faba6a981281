import type { Logger } from '../log/logger.ts';

export interface JobContext {
  /** Aborted on timeout and on shutdown; long jobs check it. */
  signal: AbortSignal;
  /** The scheduled time this run stands for (not when it actually started). */
  slot: Date;
  log: Logger;
}

/** A background job, declared as data. Ids are dotted: `<owner>.<what>`, e.g. `game.poll-status`. */
export interface JobDefinition {
  id: string;
  /** Exactly one of `every_ms` (aligned to the epoch, so replicas agree on slots) or `cron` (node-cron syntax, seconds allowed). */
  every_ms?: number;
  cron?: string;
  timeout_ms: number;
  /** Run each slot on one replica only, claimed in the run ledger. */
  once_across_replicas: boolean;
  run(ctx: JobContext): Promise<void>;
}

export type JobOutcome = 'ok' | 'failed' | 'timeout' | 'skipped_overlap' | 'skipped_claimed' | 'skipped_database_down';
