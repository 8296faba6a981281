import { WebSocket } from 'ws';

export interface Viewer {
  ws: WebSocket;
  /** Every byte received so far, in order. */
  received(): Buffer;
  /** Whether every message so far came as a binary frame. */
  allBinary(): boolean;
  /** Resolves once at least `n` bytes have arrived. */
  waitBytes(n: number, ms?: number): Promise<Buffer>;
  closed: Promise<{ code: number; reason: string }>;
}

/** A VNC viewer (like noVNC) on `/vnc-viewer/{id}?token=`; rejects with `HTTP <status> <code>` when refused. */
export function openViewer(baseUrl: string, sessionId: string, token: string, headers: Record<string, string> = {}, protocols: string[] = []): Promise<Viewer> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/vnc-viewer/${sessionId}?token=${encodeURIComponent(token)}`, protocols, { headers });
    const chunks: Buffer[] = [];
    let total = 0;
    let binary = true;
    const waiters = new Set<() => void>();
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) binary = false;
      chunks.push(Buffer.from(data));
      total += data.length;
      for (const w of [...waiters]) w();
    });
    const closed = new Promise<{ code: number; reason: string }>((done) => ws.on('close', (code, reason) => done({ code, reason: reason.toString() })));
    ws.on('unexpected-response', (_req, res) => {
      const body: Buffer[] = [];
      res.on('data', (c: Buffer) => body.push(c));
      res.on('end', () => {
        const text = Buffer.concat(body).toString('utf8');
        let code = '';
        try {
          code = (JSON.parse(text) as { code?: string }).code ?? '';
        } catch {
          code = text;
        }
        reject(new Error(`HTTP ${res.statusCode} ${code}`));
      });
    });
    ws.on('error', (err) => {
      if (ws.readyState !== WebSocket.OPEN) reject(err);
    });
    ws.on('open', () =>
      resolve({
        ws,
        received: () => Buffer.concat(chunks),
        allBinary: () => binary,
        closed,
        waitBytes: (n, ms = 10_000) =>
          new Promise((ok, fail) => {
            const check = (): void => {
              if (total < n) return;
              waiters.delete(check);
              clearTimeout(timer);
              ok(Buffer.concat(chunks));
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(new Error(`viewer got ${total} of ${n} bytes`));
            }, ms);
            waiters.add(check);
            check();
          }),
      }),
    );
  });
}

export const rfbVersion = Buffer.from('RFB 003.008\n', 'ascii');

/** Opens a viewer and completes the start of RFB: the server's version, then ours. */
export async function handshake(viewer: Viewer): Promise<void> {
  const hello = await viewer.waitBytes(rfbVersion.length);
  if (!hello.subarray(0, rfbVersion.length).equals(rfbVersion)) throw new Error(`expected the RFB version, got ${JSON.stringify(hello.toString('latin1'))}`);
  viewer.ws.send(rfbVersion, { binary: true });
}

/** Sends `data` in 64 KiB messages as the viewer's socket drains. */
export async function pump(viewer: Viewer, data: Buffer): Promise<void> {
  for (let at = 0; at < data.length; at += 65_536) {
    await new Promise<void>((ok, fail) => viewer.ws.send(data.subarray(at, at + 65_536), { binary: true }, (err) => (err ? fail(err) : ok())));
  }
}

/** Whether `bytes` is the simulated VNC server's pattern stream from its start (byte i = i % 251): nothing dropped or reordered. */
export function isPattern(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i += 1) if (bytes[i] !== i % 251) return false;
  return true;
}
