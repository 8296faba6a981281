import pg from 'pg';
import type { Logger } from '../log/logger.ts';

/** How often the server is asked, how long an answer may take, and how many misses in a row make it down. */
export interface DatabaseHealthSettings {
  intervalMs: number;
  timeoutMs: number;
  missesToDown: number;
}

export const defaultHealthSettings: DatabaseHealthSettings = { intervalMs: 500, timeoutMs: 750, missesToDown: 2 };

/**
 * Whether the PostgreSQL server answers, asked twice a second (at once again after a miss) on a connection of its own (never
 * one of the pool's, which a blackholed network can leave waiting). While it is down, requests
 * that need the database answer 503 DATABASE_UNAVAILABLE at once instead of queueing for a pooled
 * connection, /readyz says so, and jobs skip their slots. The first answer after that makes it
 * up again: nothing else has to restart.
 */
export class DatabaseHealth {
  private client: pg.Client | null = null;
  private clientReady: Promise<pg.Client> = Promise.resolve(null as unknown as pg.Client);
  private timer: NodeJS.Timeout | null = null;
  private misses = 0;
  private up = true;
  private downSince = 0;
  private stopped = false;

  constructor(
    private readonly url: string,
    private readonly log: Logger,
    private readonly settings: DatabaseHealthSettings = defaultHealthSettings,
  ) {}

  isUp(): boolean {
    return this.up;
  }

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.drop();
  }

  private schedule(delayMs = this.settings.intervalMs): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.check(), delayMs);
    this.timer.unref();
  }

  private async check(): Promise<void> {
    const answered = await this.ping();
    if (this.stopped) return;
    if (answered) {
      if (!this.up) this.log.info({ down_ms: Date.now() - this.downSince }, 'database reachable again');
      this.misses = 0;
      this.up = true;
    } else {
      this.misses += 1;
      if (this.up && this.misses >= this.settings.missesToDown) {
        this.up = false;
        this.downSince = Date.now();
        this.log.warn({ misses: this.misses }, 'database unreachable; answering 503 DATABASE_UNAVAILABLE until it answers again');
      }
    }
    // A miss while up is confirmed at once (down is known within two timeouts of the first miss);
    // once down, the server is asked at the usual pace.
    this.schedule(!answered && this.up ? 0 : this.settings.intervalMs);
  }

  /** One `SELECT 1`, reconnecting first if needed; false on any failure or no answer in time. */
  private async ping(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => {
      // setImmediate after the timer: a reply that arrived while the event loop was busy (a
      // CPU-bound moment, not an outage) is read before the miss is counted.
      timer = setTimeout(() => setImmediate(() => resolve(false)), this.settings.timeoutMs);
    });
    const asked = (async () => {
      this.client ??= this.connectClient();
      const client = await this.clientReady;
      await client.query('SELECT 1');
      return true as const;
    })().catch(() => false as const);
    const answered = await Promise.race([asked, late]);
    clearTimeout(timer);
    if (!answered) this.drop();
    return answered;
  }

  private connectClient(): pg.Client {
    const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: this.settings.timeoutMs, application_name: 'panel health check', keepAlive: true });
    // A server restart ends this connection with an error event: the next ping reconnects.
    client.on('error', () => {
      if (this.client === client) this.drop();
    });
    this.clientReady = client.connect().then(() => client);
    this.clientReady.catch(() => undefined);
    return client;
  }

  /** Forgets the connection without waiting for it (a blackholed one would never close politely). */
  private drop(): void {
    const client = this.client;
    this.client = null;
    if (!client) return;
    const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
    stream?.destroy();
    void client.end().catch(() => undefined);
  }
}
