import type { JobDefinition } from '../../../src/plugin-api/index.ts';
import type { IdeSessions } from '../ide-sessions.ts';

/** Each replica rechecks the IDE sockets it holds: a session revoked or expired meanwhile is cut. */
export function recheckIdeSocketsJob(sessions: IdeSessions, everyMs: number): JobDefinition {
  return { id: 'dev.ide-sockets', every_ms: everyMs, timeout_ms: 30_000, once_across_replicas: false, run: async () => void (await sessions.recheckSockets()) };
}
