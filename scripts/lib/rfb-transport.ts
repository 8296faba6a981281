import { connect } from 'node:net';
import { WebSocket, type RawData } from 'ws';

/** A bidirectional byte stream an RFB client runs over: a WebSocket (binary messages) or a TCP socket. */
export interface ByteTransport {
  send(data: Buffer): void;
  onData(listener: (chunk: Buffer) => void): void;
  /** Called once when the stream ends: null for an orderly close, else the error. */
  onClose(listener: (err: Error | null) => void): void;
  close(): Promise<void>;
}

const toBuffer = (data: RawData): Buffer => (Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data));

/** An open transport, with when it was asked for and when it opened (performance.now()). */
export interface OpenedTransport {
  transport: ByteTransport;
  startedAt: number;
  openedAt: number;
}

/** Opens a WebSocket and resolves at its `open`. A refused upgrade rejects with its HTTP status and body. */
export function webSocketTransport(url: string): Promise<OpenedTransport> {
  return new Promise((resolve, reject) => {
    const startedAt = performance.now();
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.binaryType = 'nodebuffer';
    const closed = new Promise<void>((done) => ws.once('close', () => done()));
    ws.on('unexpected-response', (_req, res) => {
      const body: Buffer[] = [];
      res.on('data', (c: Buffer) => body.push(c));
      res.on('end', () => reject(new Error(`${url.replace(/token=[^&]+/, 'token=…')} answered HTTP ${res.statusCode}: ${Buffer.concat(body).toString('utf8')}`)));
    });
    ws.once('error', reject);
    ws.once('open', () => {
      const openedAt = performance.now();
      const transport: ByteTransport = {
        send: (data) => ws.send(data, { binary: true }),
        onData: (listener) => ws.on('message', (data) => listener(toBuffer(data))),
        onClose: (listener) => {
          let told = false;
          const tell = (err: Error | null): void => {
            if (!told) listener(err);
            told = true;
          };
          ws.on('error', (err) => tell(err));
          ws.on('close', (code, reason) => tell(code === 1000 || code === 1005 ? null : new Error(`WebSocket closed ${code} ${reason.toString()}`)));
        },
        close: async () => {
          if (ws.readyState === WebSocket.CLOSED) return;
          ws.close();
          const timer = setTimeout(() => ws.terminate(), 2_000);
          await closed;
          clearTimeout(timer);
        },
      };
      resolve({ transport, startedAt, openedAt });
    });
  });
}

/** A TCP connection to 127.0.0.1:port (Nagle off), resolving once connected. */
export function tcpTransport(port: number): Promise<OpenedTransport> {
  return new Promise((resolve, reject) => {
    const startedAt = performance.now();
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    socket.once('error', reject);
    socket.once('connect', () => {
      const openedAt = performance.now();
      resolve({
        startedAt,
        openedAt,
        transport: {
          send: (data) => socket.write(data),
          onData: (listener) => socket.on('data', listener),
          onClose: (listener) => {
            let failure: Error | null = null;
            socket.on('error', (err) => (failure = err));
            socket.on('close', () => listener(failure));
          },
          close: async () => {
            socket.end();
            const timer = setTimeout(() => socket.destroy(), 2_000);
            await closed;
            clearTimeout(timer);
          },
        },
      });
    });
  });
}
