import type { Logger } from '../../log/logger.ts';
import type { EventBus } from '../../events/event-bus.ts';
import { billingUpdated } from '../../events/core-events.ts';
import type { BillingEnforcement } from '../enforcement.ts';

/**
 * An account changed: its instances follow the plan now (suspended past the limits, lifted
 * within them). Runs on the replica that published, once; a failure is retried by the
 * enforcement job and never undoes the change. The returned stop waits for enforcement in
 * flight, so a shutdown never closes the database between a suspension and its agent stop.
 */
export function enforcePlanOnChange(bus: EventBus, enforcement: BillingEnforcement, log: Logger): () => Promise<void> {
  const inFlight = new Set<Promise<void>>();
  const unsubscribe = bus.on(
    billingUpdated,
    (event) => {
      const userId = event.user_id;
      if (userId === null) return;
      const run: Promise<void> = enforcement
        .enforce(userId)
        .then(
          () => undefined,
          (err: unknown) => log.warn({ err, user_id: userId }, 'could not apply the plan to instances now; the job will'),
        )
        .finally(() => inFlight.delete(run));
      inFlight.add(run);
    },
    { placement: 'publisher' },
  );
  return async () => {
    unsubscribe();
    await Promise.allSettled([...inFlight]);
  };
}
