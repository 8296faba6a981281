import type { Plans } from '../billing/plans.ts';
import type { PreparedPlugin } from '../plugin-host/plugin-host.ts';
import { coreInvariants } from './core-invariants.ts';
import type { Invariant } from './invariant.ts';

/**
 * Every invariant of a panel: the core's, then each enabled plugin's (its definition's
 * `invariants`). A plugin's ids must start with its own id, so a report names whose rule broke.
 */
export function panelInvariants(plans: Plans, plugins: readonly PreparedPlugin[]): Invariant[] {
  const all = [...coreInvariants(plans)];
  for (const { plugin } of plugins) {
    for (const inv of plugin.invariants ?? []) {
      if (!inv.id.startsWith(`${plugin.id}.`)) throw new Error(`plugin "${plugin.id}" declares the invariant "${inv.id}", whose id does not start with "${plugin.id}."`);
      all.push(inv);
    }
  }
  const ids = all.map((i) => i.id);
  const twice = ids.find((id, n) => ids.indexOf(id) !== n);
  if (twice) throw new Error(`two invariants have the id "${twice}"`);
  return all;
}
