import { connect } from 'node:net';
import { WebSocketServer, type RawData } from 'ws';

export interface VncBridge {
  /** ws://127.0.0.1:<port>/ */
  url: string;
  close(): Promise<void>;
}

/**
 * The plain baseline for the relay: what a user would run instead (websockify in a few lines).
 * A WebSocket server on 127.0.0.1, port 0, that pipes each binary message of a connection to its
 * own TCP connection to 127.0.0.1:targetPort (Nagle off) and every TCP chunk back as a binary message.
 */
export async function startVncBridge(targetPort: number): Promise<VncBridge> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise<void>((ok, fail) => {
    server.once('listening', ok);
    server.once('error', fail);
  });
  server.on('connection', (ws) => {
    const tcp = connect({ host: '127.0.0.1', port: targetPort, noDelay: true });
    ws.on('message', (data: RawData) => tcp.write(data as Buffer));
    tcp.on('data', (chunk) => ws.send(chunk, { binary: true }));
    const end = (): void => {
      tcp.destroy();
      ws.close();
    };
    ws.on('close', end);
    ws.on('error', end);
    tcp.on('close', end);
    tcp.on('error', end);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `ws://127.0.0.1:${port}/`,
    close: () =>
      new Promise((done) => {
        for (const ws of server.clients) ws.terminate();
        server.close(() => done());
      }),
  };
}
