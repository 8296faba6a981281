import type { Invariant, InvariantContext } from './invariant.ts';

export interface InvariantResult {
  id: string;
  title: string;
  ok: boolean;
  /** Ids of the rows breaking it (all of them). */
  offending: string[];
  explanation: string;
  remedy: string;
  /** Set when the check itself could not run (a missing table, a lost connection): counted as a failure. */
  error?: string;
}

/** Runs every invariant, one after another (each is one query), and says which hold. A check that throws fails, with its error. */
export async function checkInvariants(invariants: readonly Invariant[], ctx: InvariantContext): Promise<InvariantResult[]> {
  const results: InvariantResult[] = [];
  for (const inv of invariants) {
    const base = { id: inv.id, title: inv.title, explanation: inv.explanation, remedy: inv.remedy };
    try {
      const offending = await inv.offending(ctx);
      results.push({ ...base, ok: offending.length === 0, offending });
    } catch (err) {
      // knex puts the SQL before the server's message; the message is what an operator needs.
      const message = err instanceof Error ? err.message : String(err);
      results.push({ ...base, ok: false, offending: [], error: message.split(' - ').at(-1) ?? message });
    }
  }
  return results;
}

/** The human report: one line per invariant, then what a failure means, its ids (up to `maxIds`) and what to do. */
export function formatInvariantReport(results: readonly InvariantResult[], maxIds = 20): string {
  const lines: string[] = [];
  for (const r of results) {
    if (r.ok) {
      lines.push(`PASS ${r.id}: ${r.title}`);
      continue;
    }
    lines.push(`FAIL ${r.id}: ${r.title}`);
    if (r.error) lines.push(`     the check could not run: ${r.error}`);
    else {
      const more = r.offending.length > maxIds ? ` (and ${r.offending.length - maxIds} more)` : '';
      lines.push(`     ${r.offending.length} row(s): ${r.offending.slice(0, maxIds).join(', ')}${more}`);
    }
    lines.push(`     why: ${r.explanation}`, `     do:  ${r.remedy}`);
  }
  return `${lines.join('\n')}\n`;
}
