import type { JobDefinition } from '../../jobs/job.ts';
import type { RefreshTokens } from '../refresh-tokens.ts';
import type { SessionService } from '../session-service.ts';
import type { PasswordReset } from '../password-reset.ts';
import type { Tickets } from '../tickets.ts';

/** Drops expired refresh families, denylisted access tokens, reset tokens and tickets. */
export function pruneAuthJob(deps: { refresh: RefreshTokens; sessions: SessionService; reset: PasswordReset; tickets: Tickets }): JobDefinition {
  return {
    id: 'core.auth-prune',
    every_ms: 60 * 60_000,
    timeout_ms: 60_000,
    once_across_replicas: true,
    run: async ({ log }) => {
      const families = await deps.refresh.prune();
      const denied = await deps.sessions.pruneDenylist();
      await deps.reset.prune();
      await deps.tickets.prune();
      log.debug({ families, denied }, 'pruned expired sessions');
    },
  };
}
