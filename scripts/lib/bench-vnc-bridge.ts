import { connect } from 'node:net';
import { pathToFileURL } from 'node:url';
import { WebSocketServer, type RawData } from 'ws';

export interface VncBridge {
  /** ws://127.0.0.1:<port>/ */
  url: string;
  close(): Promise<void>;
}

/**
 * The plain baseline for the relay: what a user would run instead (websockify in a few lines).
 * A WebSocket server on 127.0.0.1, port 0, that pipes each binary message of a connection to its
 * own TCP connection to 127.0.0.1:targetPort (Nagle off) and every TCP chunk back as a binary message,
 * with backpressure.
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
    // Backpressure like any usable bridge: stop reading the VNC server while 1 MiB (the relay's
    // credit window) waits to reach the viewer.
    let unsent = 0;
    tcp.on('data', (chunk) => {
      unsent += chunk.length;
      if (unsent >= 1024 * 1024) tcp.pause();
      ws.send(chunk, { binary: true }, () => {
        unsent -= chunk.length;
        if (unsent < 1024 * 1024 && tcp.isPaused()) tcp.resume();
      });
    });
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

// Run directly (`node --import tsx scripts/lib/bench-vnc-bridge.ts <target-port>`), the bridge is a
// process of its own, as websockify would be: bench:vnc measures it that way (bench-vnc-processes.ts).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const target = Number(process.argv[2]);
  if (process.argv.includes('--help') || !Number.isInteger(target) || target <= 0) {
    process.stdout.write(
      'Usage: node --import tsx scripts/lib/bench-vnc-bridge.ts <vnc-port>\nA plain WebSocket-to-TCP bridge to 127.0.0.1:<vnc-port> for bench:vnc; prints {"url":…} once listening, stops on SIGTERM.\n',
    );
    process.exit(process.argv.includes('--help') ? 0 : 2);
  }
  const bridge = await startVncBridge(target);
  process.stdout.write(`${JSON.stringify({ url: bridge.url })}\n`);
  process.once('SIGTERM', () => void bridge.close().finally(() => process.exit(0)));
}
