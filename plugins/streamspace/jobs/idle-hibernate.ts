import type { JobDefinition } from '../../../src/plugin-api/index.ts';
import type { SessionService } from '../sessions/session-service.ts';

export interface IdleHibernateJobOptions {
  sessions: SessionService;
  everyMs: number;
}

/** Sessions without VNC activity for their `idle_timeout` hibernate; one replica per slot is enough. */
export function idleHibernateJob({ sessions, everyMs }: IdleHibernateJobOptions): JobDefinition {
  return { id: 'streamspace.idle-hibernate', every_ms: everyMs, timeout_ms: 60_000, once_across_replicas: true, run: async () => void (await sessions.hibernateIdle()) };
}
