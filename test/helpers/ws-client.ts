import { WebSocket } from 'ws';

export interface TestSocket {
  ws: WebSocket;
  /** Every text frame received so far, parsed as JSON when it is JSON. */
  frames: unknown[];
  /** Resolves with the first frame (already received or future) that passes `match`. */
  waitFor(match: (frame: unknown) => boolean, ms?: number, what?: string): Promise<unknown>;
  closed: Promise<{ code: number; reason: string }>;
  send(frame: unknown): void;
}

export interface RefusedUpgrade {
  status: number;
  body: { code: string; message: string; request_id: string };
}

/** Opens a WebSocket; resolves with the socket, or with the HTTP refusal (status and envelope) when the upgrade is refused. */
export function openSocket(url: string, headers: Record<string, string> = {}): Promise<TestSocket | RefusedUpgrade> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    const frames: unknown[] = [];
    const waiters = new Set<{ match: (f: unknown) => boolean; resolve: (f: unknown) => void }>();
    ws.on('message', (data) => {
      const text = data.toString('utf8');
      let frame: unknown = text;
      try {
        frame = JSON.parse(text) as unknown;
      } catch {
        // kept as text
      }
      frames.push(frame);
      for (const w of waiters) {
        if (w.match(frame)) {
          waiters.delete(w);
          w.resolve(frame);
        }
      }
    });
    const closed = new Promise<{ code: number; reason: string }>((done) => ws.on('close', (code, reason) => done({ code, reason: reason.toString() })));
    ws.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as RefusedUpgrade['body'] }));
    });
    ws.on('error', (err) => {
      if (ws.readyState !== WebSocket.OPEN) reject(err);
    });
    ws.on('open', () =>
      resolve({
        ws,
        frames,
        closed,
        send: (frame) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
        waitFor: (match, ms = 15_000, what = 'a frame') => {
          const seen = frames.find(match);
          if (seen !== undefined) return Promise.resolve(seen);
          return new Promise((ok, fail) => {
            const waiter = { match, resolve: ok };
            waiters.add(waiter);
            setTimeout(() => {
              if (waiters.delete(waiter)) fail(new Error(`timed out waiting for ${what}; got ${JSON.stringify(frames.slice(-5))}`));
            }, ms).unref();
          });
        },
      }),
    );
  });
}

export function isRefusal(result: TestSocket | RefusedUpgrade): result is RefusedUpgrade {
  return 'status' in result;
}

/** The socket, or a test failure naming the refusal. */
export function expectOpen(result: TestSocket | RefusedUpgrade): TestSocket {
  if (isRefusal(result)) throw new Error(`refused: ${result.status} ${result.body.code}`);
  return result;
}
