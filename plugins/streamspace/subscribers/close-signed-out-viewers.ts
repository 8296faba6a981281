import { userSessionsEnded, type Events } from '../../../src/plugin-api/index.ts';
import type { VncMux } from '../vnc/vnc-mux.ts';

/** Sign-ins ended (some at logout; all of them, `family_ids` null, at disable or reset): the viewers opened with them close. */
export function closeSignedOutViewers(events: Events, { vnc }: { vnc: VncMux }): () => void {
  return events.on(userSessionsEnded, ({ data }) => vnc.closeUser(data.user_id, data.family_ids));
}
