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
  /**
   * Stops forwarding, as a network path that drops every packet: connections stay open, new
   * ones are accepted, and nothing moves either way (bytes wait, as TCP retransmits would).
   */
  block(): void;
  /** Forwards again what waited and what comes, as a network path that heals. */
  unblock(): void;
  close(): Promise<void>;
}

export async function startSwitchableProxy(targetUrl: string): Promise<SwitchableProxy> {
  let target = new URL(targetUrl);
  const live = new Set<Socket>();
  const pairs = new Set<[Socket, Socket]>();
  /** Clients accepted while blocked, connected upstream once unblocked. */
  const waiting = new Set<Socket>();
  let blocked = false;
  const flow = ([client, upstream]: [Socket, Socket]): void => {
    client.pipe(upstream);
    upstream.pipe(client);
  };
  const connect = (client: Socket): void => {
    const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    for (const s of pair) {
      live.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        live.delete(s);
        pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      });
    }
    flow(pair);
  };
  const server: Server = createServer((client) => {
    if (!blocked) return connect(client);
    client.pause();
    live.add(client);
    waiting.add(client);
    client.on('error', () => undefined);
    client.on('close', () => {
      live.delete(client);
      waiting.delete(client);
    });
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
    block: () => {
      blocked = true;
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    unblock: () => {
      blocked = false;
      for (const pair of pairs) flow(pair);
      for (const client of waiting) {
        waiting.delete(client);
        live.delete(client);
        client.removeAllListeners('close');
        connect(client);
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of live) s.destroy();
        server.close(() => resolve());
      }),
  };
}
