import { createHash } from 'node:crypto';
import { request } from 'node:http';

/** Streams `chunks` as a PUT body (chunked unless `length` is given); resolves with status and JSON body. */
export function uploadTo(target: URL, accessToken: string, chunks: Iterable<Buffer>, length?: number): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      { method: 'PUT', headers: { Authorization: `Bearer ${accessToken}`, 'Content-Type': 'application/octet-stream', ...(length === undefined ? {} : { 'Content-Length': String(length) }) } },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(parts).toString('utf8') || '{}') as Record<string, unknown> }));
      },
    );
    // The server may answer (413) and close before the whole body is sent.
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
    const it = chunks[Symbol.iterator]();
    const pump = (): void => {
      for (;;) {
        const next = it.next();
        if (next.done) return void req.end();
        if (!req.write(next.value)) return void req.once('drain', pump);
      }
    };
    pump();
  });
}

/** Downloads, hashing as it streams (never holding the file). */
export function downloadFrom(target: URL, accessToken: string): Promise<{ status: number; sha256: string; size: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    request(target, { headers: { Authorization: `Bearer ${accessToken}` } }, (res) => {
      const hash = createHash('sha256');
      let size = 0;
      res.on('data', (c: Buffer) => {
        hash.update(c);
        size += c.length;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, sha256: hash.digest('hex'), size, headers: res.headers }));
    })
      .on('error', reject)
      .end();
  });
}

/** `count` blocks of `size` bytes, each different (its index in the first bytes), hashed into `hash` as they are made. */
export function* blocks(count: number, size: number, seed: Buffer, hash?: ReturnType<typeof createHash>): Generator<Buffer> {
  for (let i = 0; i < count; i += 1) {
    const block = Buffer.alloc(size, seed);
    block.writeUInt32BE(i, 0);
    hash?.update(block);
    yield block;
  }
}
