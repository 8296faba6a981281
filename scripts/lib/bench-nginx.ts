import { freePort } from '../../src/lib/free-port.ts';
import { startNginx as startNginxProcess, type NginxProcess } from './nginx-process.ts';

export { nginxVersion } from './nginx-process.ts';

/**
 * One worker: the panel's API is one Node process (one event loop, about one core), and the
 * 2 cores here are shared with the load generator and the IDE; `auto` would let nginx take
 * both cores from its own load generator. One worker compares the two proxies core for core.
 */
export const nginxWorkers = 1;

export interface NginxProxy extends NginxProcess {
  version: string;
}

/**
 * A plain reverse proxy, as one would put in front of code-server: HTTP/1.1 to a keep-alive
 * upstream pool, Connection cleared for ordinary requests (so upstream connections are reused)
 * and set to "upgrade" for WebSocket upgrades (the map from nginx's WebSocket docs), no access log.
 * keepalive_requests is raised on both sides so the figures do not include reconnects every
 * 1,000 requests, which neither the panel nor the direct path does.
 */
export function nginxConfig(listenPort: number, upstreamPort: number): string {
  return `  access_log off;
  keepalive_requests 1000000;
  map $http_upgrade $connection_upgrade {
    default upgrade;
    '' '';
  }
  upstream ide {
    server 127.0.0.1:${upstreamPort};
    keepalive 32;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${listenPort};
    location / {
      proxy_pass http://ide;
      proxy_http_version 1.1;
      proxy_set_header Host $host;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_read_timeout 1h;
    }
  }`;
}

/** nginx (scripts/lib/nginx-process.ts) with that config on a free loopback port in front of 127.0.0.1:<upstreamPort>. */
export async function startNginx(upstreamPort: number, version: string): Promise<NginxProxy> {
  const port = await freePort();
  const nginx = await startNginxProcess({ port, workers: nginxWorkers, http: () => nginxConfig(port, upstreamPort) });
  return { ...nginx, version };
}
