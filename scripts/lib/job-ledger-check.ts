import type pg from 'pg';
import type { Replica } from './takeover-replicas.ts';

/** One once-across-replicas job over a bench run, from the run ledger (`job_runs`) and the replicas' own counters. */
export interface JobSlots {
  job: string;
  /** The spacing of its slots (the smallest between two claimed slots). */
  period_ms: number;
  /** Slots claimed from the first to the last one of the run. */
  slots: number;
  /** Slots between those that no replica claimed. */
  missing: number;
  /** Claimed, but no outcome written: the claimer died running it. */
  unfinished: number;
  /** Slots claimed per replica label. */
  by_replica: Record<string, number>;
  /** Runs the replicas counted (panel_job_runs_total) beyond the slots they claimed: a run without a claim, i.e. a second run of a slot. */
  runs_beyond_claims: number;
}

/**
 * Reads the ledger for the jobs claimed in [from, to): each slot is claimed at most once (the
 * primary key), so "once per slot" is checked as no missing slots, and as every replica having
 * run no more slots than it claimed (its metrics, read before it stopped, against its rows).
 * Jobs with fewer than three slots in the run say nothing about spacing and are left out.
 */
export async function checkJobLedger(db: pg.Client, from: Date, to: Date, replicas: Replica[]): Promise<JobSlots[]> {
  const rows = await db.query<{ job_id: string; slot: Date; claimed_by: string; finished_at: Date | null }>(
    'SELECT job_id, slot, claimed_by, finished_at FROM job_runs WHERE slot >= $1 AND slot < $2 ORDER BY job_id, slot',
    [from, to],
  );
  const claimsAll = await db.query<{ job_id: string; claimed_by: string; n: string }>('SELECT job_id, claimed_by, count(*) AS n FROM job_runs GROUP BY job_id, claimed_by');
  const labelOf = new Map(replicas.map((r) => [r.id, r.label]));
  const byJob = new Map<string, typeof rows.rows>();
  for (const row of rows.rows) byJob.set(row.job_id, [...(byJob.get(row.job_id) ?? []), row]);
  const out: JobSlots[] = [];
  for (const [job, slots] of byJob) {
    if (slots.length < 3) continue;
    const times = slots.map((s) => s.slot.getTime());
    let period = Infinity;
    for (let i = 1; i < times.length; i += 1) period = Math.min(period, (times[i] as number) - (times[i - 1] as number));
    let missing = 0;
    for (let i = 1; i < times.length; i += 1) missing += Math.round(((times[i] as number) - (times[i - 1] as number)) / period) - 1;
    const byReplica: Record<string, number> = {};
    for (const s of slots) {
      const label = labelOf.get(s.claimed_by) ?? s.claimed_by;
      byReplica[label] = (byReplica[label] ?? 0) + 1;
    }
    let beyond = 0;
    for (const r of replicas) {
      const claimed = Number(claimsAll.rows.find((c) => c.job_id === job && c.claimed_by === r.id)?.n ?? 0);
      beyond += Math.max(0, (r.jobRuns.get(job) ?? 0) - claimed);
    }
    out.push({ job, period_ms: period, slots: slots.length, missing, unfinished: slots.filter((s) => s.finished_at === null).length, by_replica: byReplica, runs_beyond_claims: beyond });
  }
  return out;
}
