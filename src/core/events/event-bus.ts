import type { Knex } from 'knex';
import pg from 'pg';
import type { Logger } from '../log/logger.ts';

export interface PanelEvent {
  id: number;
  type: string;
  /** Whose event it is (the instance owner); null for events only admins see. */
  user_id: string | null;
  data: unknown;
  created_at: string;
}

export type EventListener = (event: PanelEvent) => void;

export interface EventFilter {
  /** Only this user's events; undefined: everyone's (admins). */
  userId?: string;
  types?: readonly string[];
}

interface EventRow {
  id: string | number;
  type: string;
  user_id: string | null;
  data: unknown;
  created_at: Date;
}

const channel = 'panel_events';
/** NOTIFY payloads must stay under 8000 bytes; bigger events travel as a reference. */
const maxInlinePayload = 7_500;

const toEvent = (row: EventRow): PanelEvent => ({ id: Number(row.id), type: row.type, user_id: row.user_id, data: row.data, created_at: new Date(row.created_at).toISOString() });

export function matches(event: PanelEvent, filter: EventFilter): boolean {
  if (filter.userId !== undefined && event.user_id !== filter.userId) return false;
  if (filter.types && filter.types.length > 0 && !filter.types.includes(event.type)) return false;
  return true;
}

/**
 * Events for the portal. Every event is a row in a bounded table (for Last-Event-ID
 * resume) and, on PostgreSQL, a NOTIFY sent in the publisher's transaction: each replica
 * LISTENs on its own connection and hands what arrives to its in-process subscribers, so an
 * event published anywhere reaches subscribers everywhere, only once it has committed. The
 * embedded database serves one process, so there events go straight to local subscribers.
 */
export class EventBus {
  private readonly listeners = new Set<EventListener>();
  private listener: pg.Client | null = null;
  private stopped = false;
  private lastSeenId = 0;
  private reconnectDelayMs = 500;
  private reconnectTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Knex,
    /** The server to LISTEN on; null on the embedded database. */
    private readonly listenUrl: string | null,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const last = await this.db('events').max<{ max: string | number | null }>('id as max').first();
    this.lastSeenId = Number(last?.max ?? 0);
    if (this.listenUrl) await this.connect();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.listenUrl as string });
    client.on('error', (err) => {
      this.log.warn({ err }, 'event listener connection failed; reconnecting');
      this.scheduleReconnect(client);
    });
    client.on('end', () => this.scheduleReconnect(client));
    client.on('notification', (message) => {
      if (message.channel === channel && message.payload) void this.onNotification(message.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${channel}`);
      if (this.stopped) {
        await client.end();
        return;
      }
      this.listener = client;
      // Whatever committed while we were not listening.
      await this.catchUp();
      this.reconnectDelayMs = 500;
    } catch (err) {
      // A database restart: try again later; never let this become an unhandled rejection.
      this.log.warn({ err }, 'could not LISTEN for events; retrying');
      this.scheduleReconnect(client);
    }
  }

  private scheduleReconnect(client: pg.Client): void {
    if (this.stopped || this.reconnectTimer || (this.listener !== null && this.listener !== client)) return;
    this.listener = null;
    client.removeAllListeners('end');
    void client.end().catch(() => undefined);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect().catch((err: unknown) => this.log.warn({ err }, 'event listener reconnect failed'));
    }, this.reconnectDelayMs);
    this.reconnectTimer.unref();
    this.reconnectDelayMs = Math.min(this.reconnectDelayMs * 2, 30_000);
  }

  private async catchUp(): Promise<void> {
    for (;;) {
      const rows = await this.db('events').where('id', '>', this.lastSeenId).orderBy('id').limit(1000).select<EventRow[]>('*');
      for (const row of rows) this.dispatch(toEvent(row));
      if (rows.length < 1000) return;
    }
  }

  private async onNotification(payload: string): Promise<void> {
    try {
      const parsed = JSON.parse(payload) as PanelEvent | { id: number; ref: true };
      if ('ref' in parsed) {
        const row = await this.db('events').where({ id: parsed.id }).first<EventRow | undefined>();
        if (row) this.dispatch(toEvent(row));
      } else {
        this.dispatch(parsed);
      }
    } catch (err) {
      this.log.warn({ err }, 'could not read an event notification');
    }
  }

  private dispatch(event: PanelEvent): void {
    if (event.id > this.lastSeenId) this.lastSeenId = event.id;
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.log.error({ err, event_type: event.type }, 'event subscriber failed');
      }
    }
  }

  /** Records and announces an event; inside `trx`, only once (and if) it commits. */
  async publish(type: string, userId: string | null, data: unknown, trx?: Knex.Transaction): Promise<PanelEvent> {
    const db = trx ?? this.db;
    const [row] = await db('events').insert({ type, user_id: userId, data: JSON.stringify(data) }).returning<EventRow[]>('*');
    const event = toEvent(row as EventRow);
    if (this.listenUrl) {
      const payload = JSON.stringify(event);
      await db.raw('SELECT pg_notify(?, ?)', [channel, Buffer.byteLength(payload) <= maxInlinePayload ? payload : JSON.stringify({ id: event.id, ref: true })]);
    } else if (trx) {
      void trx.executionPromise.then(() => this.dispatch(event), () => undefined);
    } else {
      this.dispatch(event);
    }
    return event;
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stored events after `afterId` that pass the filter, oldest first. */
  async replay(afterId: number, filter: EventFilter, limit = 500): Promise<PanelEvent[]> {
    const rows = await this.db('events')
      .where('id', '>', afterId)
      .modify((q) => {
        if (filter.userId !== undefined) void q.where({ user_id: filter.userId });
        if (filter.types && filter.types.length > 0) void q.whereIn('type', [...filter.types]);
      })
      .orderBy('id')
      .limit(limit)
      .select<EventRow[]>('*');
    return rows.map(toEvent);
  }

  /** Keeps the table bounded: a day of events, at most `maxRows`. */
  async prune(maxRows: number): Promise<void> {
    await this.db('events').where('created_at', '<', this.db.raw(`now() - interval '1 day'`)).delete();
    await this.db.raw('DELETE FROM events WHERE id <= (SELECT max(id) - ? FROM events)', [maxRows]);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const client = this.listener;
    this.listener = null;
    if (client) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
    }
  }
}
