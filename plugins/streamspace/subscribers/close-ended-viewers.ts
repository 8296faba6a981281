import type { Events } from '../../../src/plugin-api/index.ts';
import { sessionState } from '../events.ts';
import type { VncMux } from '../vnc/vnc-mux.ts';

/** A session that is no longer running has nothing to show: its viewers close, on every replica. */
export function closeEndedViewers(events: Events, { vnc }: { vnc: VncMux }): () => void {
  return events.on(sessionState, ({ data }) => {
    if (data.state !== 'running') vnc.closeSession(data.session_id, `session is ${data.state}`);
  });
}
