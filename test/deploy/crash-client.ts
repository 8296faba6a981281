/** A JSON call to the API under test: the status and body, or a throw when the connection died (the API was killed). */
export interface Reply {
  status: number;
  body: Record<string, unknown>;
}

export async function callApi(base: string, method: string, path: string, token?: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...(token ? { Authorization: `Bearer ${token}` } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/**
 * One workload's tally: operations started, acknowledged (the API answered the success status)
 * and cut (the connection died under them). `inFlight` is what the kill lands in the middle of.
 */
export class Tally {
  started = 0;
  acked = 0;
  refused = 0;
  cut = 0;
  readonly ackedKeys: string[] = [];
  readonly cutKeys: string[] = [];

  get inFlight(): number {
    return this.started - this.acked - this.refused - this.cut;
  }

  /** Runs one operation: `ok` says whether the reply is its acknowledgement; a thrown fetch counts as cut. */
  async run(key: string, op: () => Promise<Reply>, ok: (r: Reply) => boolean): Promise<Reply | null> {
    this.started += 1;
    try {
      const reply = await op();
      if (ok(reply)) {
        this.acked += 1;
        this.ackedKeys.push(key);
      } else this.refused += 1;
      return reply;
    } catch {
      this.cut += 1;
      this.cutKeys.push(key);
      return null;
    }
  }
}

/** Runs `work(i)` for i < n with at most `concurrency` at once; stops starting new ones once `stop()` is true. */
export async function pool(n: number, concurrency: number, work: (i: number) => Promise<unknown>, stop: () => boolean): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < n && !stop()) await work(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
}
