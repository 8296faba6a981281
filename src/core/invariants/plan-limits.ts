import type { Plans } from '../billing/plans.ts';
import { liveStatuses } from '../billing/billing-accounts.ts';
import { defineInvariant, type Invariant } from './invariant.ts';

/**
 * The instances that use a place of the plan: those running or about to (suspended and failed
 * ones do not, and deleting ones are going). Creation counts every instance but deleting ones
 * under a per-owner lock; a downgrade makes billing enforcement suspend the newest beyond the
 * new limit. Either way, no more than the limit run.
 */
const runningLifecycles = ['provisioning', 'active', 'restoring_backup'];
/** Placeholders for a list (knex expands an array binding itself, which would not type as an array). */
const marks = (list: readonly unknown[]): string => list.map(() => '?').join(', ');

/** Which plan applies is the code's rule (src/core/billing/entitlements.ts), written as SQL over the configured plans. */
export function planLimitExceeded(plans: Plans): Invariant {
  return defineInvariant({
    id: 'core.plan-limit-exceeded',
    title: 'no user runs more game servers or dev containers than their plan allows',
    explanation:
      'The plan of a live subscription (else the default plan) limits how many instances of each kind run; admins and billing-exempt accounts have no limit. The ids are the instances beyond the limit, newest first as enforcement would pick them: two creations racing past the check, or a downgrade not yet enforced.',
    remedy:
      'Run billing enforcement for the owner (a billing change, or the core.billing-enforce job every 5 minutes, suspends the newest beyond the limit); if the rows stay, suspend or delete them and report it.',
    async offending({ db }) {
      const values = plans.ordered.map(() => '(?::text, ?::int, ?::int)').join(', ');
      const bindings = plans.ordered.flatMap((p) => [p.id, p.limits.game_servers, p.limits.dev_containers]);
      const rows = await db.raw<{ rows: Array<{ id: string }> }>(
        `WITH plan_limits (id, game, dev) AS (VALUES ${values}),
         owner_limits AS (
           SELECT u.id AS owner_id, coalesce(p.game, d.game) AS game, coalesce(p.dev, d.dev) AS dev
             FROM users u
             LEFT JOIN billing_accounts a ON a.user_id = u.id
             LEFT JOIN plan_limits p ON p.id = a.plan AND a.status IN (${marks(liveStatuses)})
             CROSS JOIN (SELECT game, dev FROM plan_limits WHERE id = ?) d
            WHERE u.role <> 'admin' AND NOT coalesce(a.exempt, false)),
         ranked AS (
           SELECT i.id, i.kind, i.created_at, l.game, l.dev,
                  row_number() OVER (PARTITION BY i.owner_id, i.kind ORDER BY i.created_at, i.id) AS place
             FROM instances i JOIN owner_limits l ON l.owner_id = i.owner_id
            WHERE i.lifecycle IN (${marks(runningLifecycles)}) AND i.kind IN ('game', 'dev'))
         SELECT id FROM ranked WHERE place > CASE kind WHEN 'game' THEN game ELSE dev END
          ORDER BY created_at DESC, id`,
        [...bindings, ...liveStatuses, plans.default.id, ...runningLifecycles],
      );
      return rows.rows.map((r) => r.id);
    },
  });
}
