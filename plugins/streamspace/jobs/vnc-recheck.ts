import { AppError, type JobDefinition, type PluginContext } from '../../../src/plugin-api/index.ts';
import type { SessionService } from '../sessions/session-service.ts';
import type { VncMux } from '../vnc/vnc-mux.ts';

export interface VncRecheckJobOptions {
  vnc: VncMux;
  sessions: SessionService;
  auth: Pick<PluginContext<unknown>['auth'], 'stillValid'>;
}

/**
 * Events end viewers at once; this catches what no event announces (a demoted admin watching
 * someone else's session). Every replica checks the viewers it relays. A check that cannot be
 * made (the database unreachable) closes nothing: the run fails and the next one asks again.
 */
export function vncRecheckJob({ vnc, sessions, auth }: VncRecheckJobOptions): JobDefinition {
  return {
    id: 'streamspace.vnc-recheck',
    every_ms: 5_000,
    timeout_ms: 30_000,
    once_across_replicas: false,

    run: async () =>
      void (await vnc.recheck(async (principal, sessionId) => {
        if (!(await auth.stillValid(principal))) return false;
        // Only "no such session for you" ends a viewer. Any other failure (the database away for a
        // moment) fails this run and keeps every viewer: its stream needs no database.
        return sessions.visible(sessionId, principal).then(
          () => true,
          (err: unknown) => {
            if (err instanceof AppError && err.status === 404) return false;
            throw err;
          },
        );
      })),
  };
}
