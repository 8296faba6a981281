import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP forwarder on loopback standing in for a load balancer or a network path: new
 * connections go to the current target, which can change (an agent reconnecting lands on
 * another replica), and every live connection can be cut at once (a replica vanishing without
 * a close frame, as after SIGKILL or a network partition).
 */
export interface SwitchableProxy {
  url: string;
  retarget(targetUrl: string): void;
  /** Destroys every connection through it; new ones are still accepted. */
  cutAll(): void;
  close(): Promise<void>;
}

export async function startSwitchableProxy(targetUrl: string): Promise<SwitchableProxy> {
  let target = new URL(targetUrl);
  const live = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
    for (const s of [client, upstream]) {
      live.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        live.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    retarget: (url) => {
      target = new URL(url);
    },
    cutAll: () => {
      for (const s of live) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of live) s.destroy();
        server.close(() => resolve());
      }),
  };
}
