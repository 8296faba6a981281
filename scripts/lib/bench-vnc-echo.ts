import { viewerUrl } from './bench-vnc-api.ts';
import { startVncBridgeProcess } from './bench-vnc-processes.ts';
import { benchRoundTrips, type RttFigures } from './bench-vnc-rtt.ts';
import { tcpTransport, webSocketTransport } from './rfb-transport.ts';

const warmupRounds = 1000;

/**
 * 64-byte round trips to one echo session's VNC server (simulator, echo mode) over raw TCP,
 * the plain bridge (its own process) and the relay. Each path opens a connection of its own to that server.
 */
export async function benchEchoRoundTrips(url: string, token: string, sessionId: string, port: number, samples: number, nodeArgs: string[]): Promise<RttFigures> {
  const bridge = await startVncBridgeProcess(port, nodeArgs);
  try {
    return await benchRoundTrips(
      {
        tcp: { describe: 'raw TCP to the echo server', open: () => tcpTransport(port) },
        bridge: { describe: 'WebSocket -> plain bridge -> echo server', open: () => webSocketTransport(bridge.url) },
        relay: { describe: 'viewer WebSocket -> API -> agent socket -> agent -> echo server', open: () => webSocketTransport(viewerUrl(url, sessionId, token)) },
      },
      samples,
      warmupRounds,
    );
  } finally {
    await bridge.stop();
  }
}
