import { userSessionsEnded, type Events } from '../../../src/plugin-api/index.ts';
import { closeCodes, type ConsoleSockets } from '../console-sockets.ts';

/**
 * Console tickets belong to the user, not to one sign-in: only "every session ended"
 * (disable, password reset) closes that user's consoles, on whichever replica holds them.
 */
export function closeConsolesOnSessionsEnded(events: Events, sockets: ConsoleSockets): () => void {
  return events.on(userSessionsEnded, ({ data }) => {
    if (!data.family_ids) sockets.closeUser(data.user_id, closeCodes.accessRevoked, 'your sessions ended; sign in again');
  });
}
