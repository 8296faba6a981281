import type { Logger } from '../../log/logger.ts';
import type { EventBus } from '../../events/event-bus.ts';
import { billingUpdated } from '../../events/core-events.ts';
import type { BillingEnforcement } from '../enforcement.ts';

/**
 * An account changed: its instances follow the plan now (suspended past the limits, lifted
 * within them). Runs on the replica that published, once; a failure is retried by the
 * enforcement job and never undoes the change.
 */
export function enforcePlanOnChange(bus: EventBus, enforcement: BillingEnforcement, log: Logger): () => void {
  return bus.on(
    billingUpdated,
    (event) => {
      const userId = event.user_id;
      if (userId === null) return;
      void enforcement.enforce(userId).catch((err: unknown) => log.warn({ err, user_id: userId }, 'could not apply the plan to instances now; the job will'));
    },
    { placement: 'publisher' },
  );
}
