import type { JobDefinition } from '../../jobs/job.ts';
import type { BillingEnforcement } from '../enforcement.ts';

/** Catches what no event announced (a failed enforcement, a period that simply ran out). */
export function enforcePlansJob(enforcement: BillingEnforcement): JobDefinition {
  return { id: 'core.billing-enforce', every_ms: 5 * 60_000, timeout_ms: 120_000, once_across_replicas: true, run: () => enforcement.enforceAll() };
}
