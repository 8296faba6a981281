import { instanceDeleted, instanceState, type Events } from '../../../src/plugin-api/index.ts';
import { closeCodes, type ConsoleSockets } from '../console-sockets.ts';

/** A server deleted (or being deleted) or suspended: its consoles close, on whichever replica holds them. */
export function closeConsolesOfGoneServers(events: Events, sockets: ConsoleSockets): () => void {
  const offDeleted = events.on(instanceDeleted, ({ data }) => {
    if (data.plugin === 'game') sockets.closeServer(data.instance_id, closeCodes.serverGone, 'server deleted');
  });
  const offState = events.on(instanceState, ({ data }) => {
    if (data.plugin !== 'game') return;
    if (data.state.lifecycle === 'deleting') sockets.closeServer(data.instance_id, closeCodes.serverGone, 'server deleted');
    else if (data.state.lifecycle === 'suspended') sockets.closeServer(data.instance_id, closeCodes.notActive, 'server suspended');
  });
  return () => {
    offDeleted();
    offState();
  };
}
