import net from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface RawExchange {
  /** Every complete response read from the connection, in order (a smuggled request shows as a second one). */
  responses: RawResponse[];
  /** The server closed the connection (FIN or reset) within the wait. */
  closed: boolean;
  /** The connection was reset rather than closed cleanly. */
  reset: boolean;
  /** From connect to close (or to the end of the wait). */
  ms: number;
}

/** Splits the bytes of one connection into responses (Content-Length bodies only, which is all the API's errors use). */
export function parseResponses(raw: Buffer): RawResponse[] {
  const out: RawResponse[] = [];
  let rest = raw.toString('latin1');
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end === -1) return out;
    const [statusLine = '', ...lines] = rest.slice(0, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    const body = rest.slice(end + 4, end + 4 + length);
    if (Buffer.byteLength(body, 'latin1') < length) return out;
    out.push({ status: Number(statusLine.split(' ')[1]), headers, body: Buffer.from(body, 'latin1').toString('utf8') });
    rest = rest.slice(end + 4 + length);
  }
}

export interface RawOptions {
  /** Source address on the loopback (127.0.0.2 ...), so a test can be another client than its own fetches. */
  localAddress?: string;
  /** How long to wait for the server to close (default 3 s). */
  waitMs?: number;
}

/** Opens a connection, writes `data` as it is, and reads until the server closes or `waitMs` passes. */
export function rawExchange(port: number, data: string | Buffer, options: RawOptions = {}): Promise<RawExchange> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: options.localAddress });
    const chunks: Buffer[] = [];
    let reset = false;
    let settled = false;
    const finish = (closed: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ responses: parseResponses(Buffer.concat(chunks)), closed, reset, ms: performance.now() - started });
    };
    const timer = setTimeout(() => finish(false), options.waitMs ?? 3_000);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      reset ||= err.code === 'ECONNRESET' || err.code === 'EPIPE';
    });
    socket.on('close', () => finish(true));
    socket.on('end', () => finish(true));
    socket.write(data);
  });
}

/** Resolves once `port` answers a plain GET: the server is still fine. */
export async function stillServes(url: string): Promise<number> {
  const res = await fetch(`${url}/healthz`);
  await res.arrayBuffer();
  return res.status;
}
