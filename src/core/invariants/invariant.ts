import type { Knex } from 'knex';

/** What an invariant's check is given: the database, and how far past a deadline still counts as work in progress. */
export interface InvariantContext {
  db: Knex;
  /**
   * Slack past any deadline or lease before a row counts as stuck: a running server picks such
   * rows up on its next job pass, so a check of a live panel should not flag them yet.
   */
  graceMs: number;
}

/**
 * One consistency rule of the stored data, as an operator reads it: a named SQL check that
 * returns the ids of the rows breaking it, what a violation means, and what to do about it.
 * The core's are in src/core/invariants/; a plugin lists its own in its definition's
 * `invariants` (they may read only its own tables and the core's).
 */
export interface Invariant {
  /** `core.<name>` or `<plugin id>.<name>`. */
  id: string;
  /** The rule, stated positively ("every ... has ..."). */
  title: string;
  /** Why a violating row is a problem, and how it can come about. */
  explanation: string;
  /** What an operator should do about the rows it names. */
  remedy: string;
  /** The ids of the rows that break the rule (empty: it holds). */
  offending(ctx: InvariantContext): Promise<string[]>;
}

/** Lets a file declare an invariant with its type checked. */
export function defineInvariant(invariant: Invariant): Invariant {
  return invariant;
}

/** The interval `ms` milliseconds, for `now() - ?::interval`-style SQL. */
export function intervalOf(ms: number): string {
  return `${Math.max(0, Math.round(ms))} milliseconds`;
}
