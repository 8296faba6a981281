/**
 * Who polled which agent when, as the agents saw it: one entry per poll (its `GET /health`,
 * the first of the three calls), attributed by the `X-Panel-Replica` header the API sends.
 * Times are this process's `Date.now()`, the same clock the bench kills and starts replicas by.
 */
export class PollLog {
  private readonly polls = new Map<string, { at: number[]; by: string[] }>();

  record(agentId: string, replicaId: string, at: number): void {
    let entry = this.polls.get(agentId);
    if (!entry) this.polls.set(agentId, (entry = { at: [], by: [] }));
    entry.at.push(at);
    entry.by.push(replicaId);
  }

  /** The polls of one agent in [from, to), oldest first. */
  between(agentId: string, from: number, to: number): Array<{ at: number; by: string }> {
    const entry = this.polls.get(agentId);
    const out: Array<{ at: number; by: string }> = [];
    if (!entry) return out;
    for (let i = 0; i < entry.at.length; i += 1) {
      const at = entry.at[i] as number;
      if (at >= from && at < to) out.push({ at, by: entry.by[i] as string });
    }
    return out;
  }
}

/**
 * The one replica that polled each agent in [from, to), or null for an agent polled by none or
 * by several. Steady polling is every agent mapped to a replica over a window a little longer
 * than one interval (polls carry ±10 % jitter).
 */
export function ownersIn(log: PollLog, agentIds: string[], from: number, to: number): Map<string, string | null> {
  const owners = new Map<string, string | null>();
  for (const id of agentIds) {
    const by = new Set(log.between(id, from, to).map((p) => p.by));
    owners.set(id, by.size === 1 ? ([...by][0] as string) : null);
  }
  return owners;
}

export const isSteady = (owners: Map<string, string | null>): boolean => [...owners.values()].every((o) => o !== null);

/** How the instances a leaving replica polled came to a survivor: each one's first poll by another replica after `at`. */
export interface Takeover {
  instances: number;
  /** Instances no survivor has polled yet. */
  pending: number;
  /** From `at` until the last of them was first polled by a survivor. */
  takeover_ms: number;
  /** The longest any of them went unpolled: from its last poll by the leaver to its first by a survivor. */
  longest_gap_ms: number;
}

export function takeoverOf(log: PollLog, owned: string[], leaver: string, at: number, now: number): Takeover {
  let pending = 0;
  let takeover = 0;
  let gap = 0;
  for (const id of owned) {
    const polls = log.between(id, at - 10 * 60_000, now);
    const lastByLeaver = polls.filter((p) => p.by === leaver && p.at < at).pop()?.at ?? at;
    const first = polls.find((p) => p.at >= at && p.by !== leaver);
    if (!first) {
      pending += 1;
      continue;
    }
    takeover = Math.max(takeover, first.at - at);
    gap = Math.max(gap, first.at - lastByLeaver);
  }
  return { instances: owned.length, pending, takeover_ms: takeover, longest_gap_ms: gap };
}

/**
 * Double polling in [from, to): a replica is polling an instance from the first to the last of
 * a run of its polls no more than 1.5 intervals apart (it kept the instance meanwhile); an
 * instance is polled by two replicas at once while runs of two replicas overlap. A clean
 * handoff (the old owner's last poll before the new owner's first) is no overlap.
 */
export function overlapIn(log: PollLog, agentIds: string[], from: number, to: number, intervalMs: number): { longest_ms: number; instances: number } {
  let longest = 0;
  let instances = 0;
  for (const id of agentIds) {
    // Each replica's runs: polls no more than 1.5 intervals apart, from the first to the last.
    const spans = new Map<string, Array<[number, number]>>();
    for (const p of log.between(id, from - 1.5 * intervalMs, to)) {
      const runs = spans.get(p.by) ?? [];
      const run = runs[runs.length - 1];
      if (run && p.at - run[1] <= 1.5 * intervalMs) run[1] = p.at;
      else runs.push([p.at, p.at]);
      spans.set(p.by, runs);
    }
    let mine = 0;
    const replicas = [...spans.keys()];
    for (let a = 0; a < replicas.length; a += 1) {
      for (let b = a + 1; b < replicas.length; b += 1) {
        for (const [s1, e1] of spans.get(replicas[a] as string) ?? []) {
          for (const [s2, e2] of spans.get(replicas[b] as string) ?? []) {
            const start = Math.max(s1, s2, from);
            const end = Math.min(e1, e2, to);
            if (end > start) mine = Math.max(mine, end - start);
          }
        }
      }
    }
    if (mine > 0) instances += 1;
    longest = Math.max(longest, mine);
  }
  return { longest_ms: longest, instances };
}

/** Instances whose owner changed between two steady windows, not counting those of the replicas named in `except`. */
export function movedBetween(before: Map<string, string | null>, after: Map<string, string | null>, except: Set<string>): number {
  let moved = 0;
  for (const [id, owner] of before) {
    const next = after.get(id);
    if (owner && next && owner !== next && !except.has(owner) && !except.has(next)) moved += 1;
  }
  return moved;
}
