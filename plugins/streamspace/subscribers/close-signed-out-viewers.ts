import type { PanelEvent } from '../../../src/plugin-api/index.ts';
import type { VncMux } from '../vnc/vnc-mux.ts';

export interface CloseSignedOutViewersOptions {
  vnc: VncMux;
}

/** `user.sessions_ended` (logout of those sign-ins; null: disable or password reset, all of them): the user's viewers opened with them close. */
export function closeSignedOutViewers({ vnc }: CloseSignedOutViewersOptions): (event: PanelEvent) => void {
  return (event) => {
    if (event.type !== 'user.sessions_ended') return;
    const data = (event.data ?? {}) as { user_id?: string; family_ids?: string[] | null };
    if (data.user_id) vnc.closeUser(data.user_id, data.family_ids ?? null);
  };
}
