import type { JobDefinition, PluginContext } from '../../../src/plugin-api/index.ts';
import type { SessionService } from '../sessions/session-service.ts';
import type { VncMux } from '../vnc/vnc-mux.ts';

export interface VncRecheckJobOptions {
  vnc: VncMux;
  sessions: SessionService;
  auth: Pick<PluginContext<unknown>['auth'], 'stillValid'>;
}

/**
 * Events end viewers at once; this catches what no event announces (a demoted admin watching
 * someone else's session). Every replica checks the viewers it relays.
 */
export function vncRecheckJob({ vnc, sessions, auth }: VncRecheckJobOptions): JobDefinition {
  return {
    id: 'streamspace.vnc-recheck',
    every_ms: 5_000,
    timeout_ms: 30_000,
    once_across_replicas: false,
    quiet: true,
    run: async () =>
      void (await vnc.recheck(async (principal, sessionId) => {
        if (!(await auth.stillValid(principal))) return false;
        return sessions.visible(sessionId, principal).then(() => true, () => false);
      })),
  };
}
