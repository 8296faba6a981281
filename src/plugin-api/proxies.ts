import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ProxyCall, ReverseProxySettings } from '../core/proxy/reverse-proxy.ts';

/** A reverse proxy to an instance's HTTP service (the IDE): headers, cookies and failures handled. */
export interface HttpProxy {
  web(req: IncomingMessage, res: ServerResponse, call: ProxyCall): Promise<void>;
  ws(req: IncomingMessage, socket: Duplex, head: Buffer, call: Omit<ProxyCall, 'onFailure' | 'responseHeaders'>): void;
  close(): void;
}

export interface Proxies {
  create(settings: ReverseProxySettings): HttpProxy;
}
