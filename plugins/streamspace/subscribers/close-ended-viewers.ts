import type { PanelEvent } from '../../../src/plugin-api/index.ts';
import type { VncMux } from '../vnc/vnc-mux.ts';

export interface CloseEndedViewersOptions {
  vnc: VncMux;
}

/** `streamspace.session_state`: a session that is no longer running has nothing to show; its viewers close. */
export function closeEndedViewers({ vnc }: CloseEndedViewersOptions): (event: PanelEvent) => void {
  return (event) => {
    if (event.type !== 'streamspace.session_state') return;
    const data = (event.data ?? {}) as { session_id?: string; state?: string };
    if (data.session_id && data.state !== 'running') vnc.closeSession(data.session_id, `session is ${data.state ?? 'gone'}`);
  };
}
