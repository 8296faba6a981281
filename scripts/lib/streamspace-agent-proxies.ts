import { connect, type Socket } from 'node:net';
import { CreditStream, type LocalEnd, type Tunnel } from '../../plugins/streamspace/contract/credit-stream.ts';
import { decodeVncFrame, proxyIdBytes } from '../../plugins/streamspace/contract/vnc-frames.ts';
import { FrameReader } from './vnc-frame-reader.ts';

/** How the proxies of one agent connection reach the control plane. */
export interface ProxySocket {
  sendJson(message: Record<string, unknown>): void;
  sendBinary(frame: Buffer): void;
}

interface Proxy {
  stream: CreditStream;
  socket: Socket;
  /** Set once we have told the control plane the stream is over (or it told us), so we say it once. */
  finished: boolean;
}

/**
 * The VNC streams multiplexed over one agent WebSocket, each a TCP connection to a session's
 * VNC server (fake or Xvnc) behind a CreditStream. One instance per WebSocket: when the socket goes,
 * all of its streams go (addendum: "the agent socket dropping ... end[s] the stream").
 */
export class VncProxies {
  private readonly proxies = new Map<string, Proxy>();

  constructor(
    private readonly out: ProxySocket,
    private readonly log: (msg: string, fields?: Record<string, unknown>) => void,
  ) {}

  get size(): number {
    return this.proxies.size;
  }

  /** Opens a stream to 127.0.0.1:port; a null port (no running session) answers vnc_proxy_error at once. */
  open(proxyId: string, port: number | null, unavailable: string): void {
    if (proxyId.length !== proxyIdBytes || !/^[\x21-\x7e]+$/.test(proxyId)) {
      this.log('ignored vnc_proxy_request', { proxy_id: proxyId, reason: `proxy_id must be ${proxyIdBytes} ASCII characters` });
      return;
    }
    if (this.proxies.has(proxyId)) {
      this.log('ignored vnc_proxy_request', { proxy_id: proxyId, reason: 'proxy_id already open' });
      return;
    }
    if (port === null) {
      this.out.sendJson({ type: 'vnc_proxy_error', proxy_id: proxyId, error: unavailable, error_code: 'VNC_UNAVAILABLE' });
      return;
    }
    // No Nagle: a viewer's small messages (SetEncodings, then an update request; keys) must not
    // wait ~40 ms for the previous one's ACK. bench:vnc measured the first update 45 ms later
    // through the relay than through a plain bridge until this was set.
    const frames = new FrameReader(proxyId);
    // Read straight into VNC frames (vnc-frame-reader.ts): no copy to put the proxy id in front.
    const socket = connect({
      host: '127.0.0.1',
      port,
      noDelay: true,
      onread: {
        buffer: () => frames.next(),
        callback: (n) => {
          proxy.stream.fromLocalFrame(frames.filled(n));
          return true;
        },
      },
    });
    // The control plane may send within its credit before vnc_proxy_ready, so the stream exists
    // from the start and the local end holds writes until the TCP connection is up.
    let connected = false;
    const held: Array<{ data: Buffer; written: () => void }> = [];
    const write = (data: Buffer, written: () => void): void => {
      socket.write(data, (err) => {
        if (!err) written();
      });
    };
    const local: LocalEnd = {
      write: (data, written) => (connected ? write(data, written) : held.push({ data, written })),
      pause: () => socket.pause(),
      resume: () => socket.resume(),
    };
    const tunnel: Tunnel = {
      sendFrame: (frame) => this.out.sendBinary(frame),
      sendWindow: (id, bytes) => this.out.sendJson({ type: 'vnc_proxy_window', proxy_id: id, bytes }),
    };
    const proxy: Proxy = { stream: new CreditStream(proxyId, tunnel, local), socket, finished: false };
    this.proxies.set(proxyId, proxy);

    socket.once('connect', () => {
      connected = true;
      for (const { data, written } of held.splice(0)) write(data, written);
      this.out.sendJson({ type: 'vnc_proxy_ready', proxy_id: proxyId });
      this.log('vnc stream ready', { proxy_id: proxyId, port });
    });
    socket.on('error', (err) => {
      if (connected || proxy.finished) return;
      // Never connected: the viewer gets an error instead of a close.
      this.finish(proxy, null);
      this.out.sendJson({ type: 'vnc_proxy_error', proxy_id: proxyId, error: `cannot reach VNC server: ${err.message}`, error_code: 'VNC_UNAVAILABLE' });
    });
    socket.on('end', () => this.finish(proxy, 'vnc server closed'));
    socket.on('close', () => this.finish(proxy, 'vnc server closed'));
  }

  /** A binary frame from the control plane. */
  onFrame(frame: Buffer): void {
    const decoded = decodeVncFrame(frame);
    const proxy = decoded ? this.proxies.get(decoded.proxyId) : undefined;
    if (!decoded || !proxy) {
      this.log('ignored binary frame', { proxy_id: decoded?.proxyId ?? null, bytes: frame.length });
      return;
    }
    if (!proxy.stream.fromTunnel(decoded.payload)) {
      this.log('vnc stream overran its credit', { proxy_id: decoded.proxyId });
      this.finish(proxy, 'flow control violated');
    }
  }

  onWindow(proxyId: string, bytes: number): void {
    this.proxies.get(proxyId)?.stream.onWindow(bytes);
  }

  /** The control plane ended the stream: close our end without answering. */
  onClose(proxyId: string): void {
    const proxy = this.proxies.get(proxyId);
    if (proxy) this.finish(proxy, null);
  }

  /** The WebSocket is gone: drop every stream silently. */
  closeAll(): void {
    for (const proxy of [...this.proxies.values()]) this.finish(proxy, null);
  }

  /** Ends a stream once; `reason` non-null sends vnc_proxy_close with it. */
  private finish(proxy: Proxy, reason: string | null): void {
    if (proxy.finished) return;
    proxy.finished = true;
    this.proxies.delete(proxy.stream.proxyId);
    proxy.stream.close();
    proxy.socket.destroy();
    if (reason !== null) {
      this.out.sendJson({ type: 'vnc_proxy_close', proxy_id: proxy.stream.proxyId, reason });
      this.log('vnc stream closed', { proxy_id: proxy.stream.proxyId, reason });
    }
  }
}
