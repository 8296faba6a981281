import type { JobDefinition } from '../../../src/plugin-api/index.ts';
import type { IdeSessions } from '../ide-sessions.ts';

/** Expired IDE tokens and sessions are dropped hourly. */
export function pruneIdeSessionsJob(sessions: IdeSessions): JobDefinition {
  return { id: 'dev.ide-prune', every_ms: 3_600_000, timeout_ms: 60_000, once_across_replicas: true, run: () => sessions.prune() };
}
