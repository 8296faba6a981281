import type { IncomingMessage } from 'node:http';

/** The client's address: the X-Forwarded-For entry `proxyHops` from the right when we sit behind that many trusted proxies, else the socket's peer. */
export function clientIp(req: IncomingMessage, proxyHops: number): string {
  const forwarded = req.headers['x-forwarded-for'];
  if (proxyHops > 0 && typeof forwarded === 'string') {
    const trusted = forwarded
      .split(',')
      .map((ip) => ip.trim())
      .filter(Boolean)
      .slice(-proxyHops);
    if (trusted[0]) return trusted[0];
  }
  return req.socket.remoteAddress ?? '';
}
