import type { JobDefinition } from '../../../src/plugin-api/index.ts';
import type { SessionService } from '../sessions/session-service.ts';

export interface ReconcileJobOptions {
  sessions: SessionService;
}

/** Sessions stuck in a transitional state with no command in flight are moved on; one replica per slot. */
export function reconcileJob({ sessions }: ReconcileJobOptions): JobDefinition {
  return { id: 'streamspace.reconcile', every_ms: 30_000, timeout_ms: 60_000, once_across_replicas: true, run: async () => void (await sessions.reconcile()) };
}
