import type { Plans } from '../billing/plans.ts';
import type { Invariant } from './invariant.ts';
import { instancePastDeadline } from './instance-deadlines.ts';
import { instanceWithoutAgent, userWithoutCredential } from './half-created.ts';
import { billingEventWithoutEffect } from './billing-events.ts';
import { planLimitExceeded } from './plan-limits.ts';

/** The core's invariants, in the order the checker prints them (plugins' follow). */
export function coreInvariants(plans: Plans): Invariant[] {
  return [instancePastDeadline, userWithoutCredential, instanceWithoutAgent, billingEventWithoutEffect, planLimitExceeded(plans)];
}
