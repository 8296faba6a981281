import { instanceDeleted, instanceState, userSessionsEnded, type Events } from '../../../src/plugin-api/index.ts';
import { ideStopped } from '../events.ts';
import type { IdeSessions } from '../ide-sessions.ts';

/**
 * Ends IDE sessions wherever their sockets are: when their sign-in ends, when the IDE stops,
 * and when their container is deleted or leaves `active`.
 */
export function endIdeSessions(events: Events, sessions: IdeSessions): () => void {
  const revoke = (work: Promise<void>): void => void work.catch(() => undefined);
  const offs = [
    events.on(userSessionsEnded, ({ data }) => revoke(sessions.revoke(data.family_ids ? { familyIds: data.family_ids } : { userId: data.user_id }, false))),
    events.on(ideStopped, ({ data }) => revoke(sessions.revoke({ instanceId: data.instance_id }, false))),
    events.on(instanceDeleted, ({ data }) => {
      if (data.plugin === 'dev') revoke(sessions.revoke({ instanceId: data.instance_id }, false));
    }),
    events.on(instanceState, ({ data }) => {
      if (data.plugin === 'dev' && data.state.lifecycle !== 'active') revoke(sessions.revoke({ instanceId: data.instance_id }, false));
    }),
  ];
  return () => {
    for (const off of offs) off();
  };
}
