import type { Knex } from 'knex';
import type { JobOutcome } from './job.ts';

/**
 * Claims `(job, slot)` for this replica. The transaction-scoped advisory lock serialises the
 * claimers of one job; the primary key with `ON CONFLICT DO NOTHING` is what makes the claim
 * exactly-once even without the lock. The claim commits before the job runs, so a long job
 * never holds a transaction (PGlite has a single connection).
 */
export async function claimSlot(knex: Knex, jobId: string, slot: Date, replicaId: string): Promise<boolean> {
  return knex.transaction(async (trx) => {
    await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`job:${jobId}`]);
    const rows = await trx('job_runs').insert({ job_id: jobId, slot, claimed_by: replicaId }).onConflict(['job_id', 'slot']).ignore().returning('job_id');
    return rows.length > 0;
  });
}

export async function recordOutcome(knex: Knex, jobId: string, slot: Date, outcome: JobOutcome, durationMs: number, error: string | null): Promise<void> {
  await knex('job_runs')
    .where({ job_id: jobId, slot })
    .update({ finished_at: knex.fn.now(), outcome, duration_ms: Math.round(durationMs), error });
}

/** Keeps the ledger small; slots older than `keepDays` can no longer be contested. */
export async function pruneLedger(knex: Knex, keepDays: number): Promise<void> {
  await knex('job_runs')
    .where('started_at', '<', knex.raw(`now() - make_interval(days => ?::int)`, [keepDays]))
    .delete();
}
