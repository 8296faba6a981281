import { WebSocket } from 'ws';

/** One JSON message per text frame (addendum); false when the socket is not open. */
export function sendJson(ws: WebSocket, message: Record<string, unknown>): boolean {
  if (ws.readyState !== WebSocket.OPEN) return false;
  ws.send(JSON.stringify(message));
  return true;
}

/** <base>/agent/ws?agent_id=..&platform=..[&region=..], http → ws, https → wss. */
export function agentSocketUrl(base: string, agentId: string, platform: string, region: string | undefined): string {
  const url = new URL(base);
  url.protocol = url.protocol === 'https:' || url.protocol === 'wss:' ? 'wss:' : 'ws:';
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/agent/ws`;
  url.search = '';
  url.searchParams.set('agent_id', agentId);
  url.searchParams.set('platform', platform);
  if (region) url.searchParams.set('region', region);
  return url.toString();
}

/** A close handshake, but never waiting more than a second for a peer that does not answer. */
export function closeGracefully(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => ws.terminate(), 1000);
    ws.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
    else ws.close(1000, 'agent stopping');
  });
}
