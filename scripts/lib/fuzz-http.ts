import { Agent, request } from 'node:http';

/** One request exactly as the fuzzer means it: the path is sent byte for byte (no dot-segment folding as fetch does). */
export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

export interface FuzzAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** At most `maxBodyBytes` of the body; streams (event streams, downloads) are cut there. */
  body: string;
  ms: number;
}

/** The connection failed before a status line: reset, refused, or no answer in time. */
export class NoAnswerError extends Error {}

const agent = new Agent({ keepAlive: true, maxSockets: 8 });

/**
 * Sends one request and reads its answer. A stream that keeps going (an event stream, a large
 * download) is read up to `maxBodyBytes` or `streamMs` and then cut: its status and first bytes are what the oracles judge.
 */
export function send(baseUrl: string, req: FuzzRequest, options: { timeoutMs?: number; maxBodyBytes?: number; streamMs?: number } = {}): Promise<FuzzAnswer> {
  const { timeoutMs = 10_000, maxBodyBytes = 256 * 1024, streamMs = 1_500 } = options;
  const url = new URL(baseUrl);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...req.headers };
    if (req.body !== undefined) headers['Content-Length'] = String(req.body.length);
    const outgoing = request({ host: url.hostname, port: url.port, method: req.method, path: req.path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        clearTimeout(streamTimer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), ms: Date.now() - started });
      };
      const cut = (): void => {
        finish();
        res.destroy();
        outgoing.destroy();
      };
      const streamTimer = setTimeout(cut, streamMs);
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        if (size >= maxBodyBytes) cut();
      });
      res.on('end', finish);
      res.on('error', finish);
      res.on('close', finish);
    });
    const timer = setTimeout(() => outgoing.destroy(new NoAnswerError(`no answer within ${timeoutMs} ms`)), timeoutMs);
    outgoing.on('response', () => clearTimeout(timer));
    outgoing.on('error', (err) => {
      clearTimeout(timer);
      reject(err instanceof NoAnswerError ? err : new NoAnswerError(`the connection failed before an answer: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    });
    outgoing.end(req.body);
  });
}

/** Closes the pooled keep-alive sockets, so a finished run leaves nothing open. */
export function closeConnections(): void {
  agent.destroy();
}
