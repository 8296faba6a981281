import type { Knex } from 'knex';
import pg from 'pg';
import type { Logger } from '../log/logger.ts';
import type { EventDefinition, EventData, PanelEvent } from './event-definition.ts';
import { EventContractError, type EventCatalogue } from './event-catalogue.ts';

export type { PanelEvent } from './event-definition.ts';

export type EventListener = (event: PanelEvent) => void;

/**
 * Where a handler runs. `everywhere`: on every replica, for events published anywhere
 * (closing sockets that replica holds). `publisher`: only on the replica that published,
 * once the event committed (follow-up work that must run once, such as billing enforcement).
 */
export type HandlerPlacement = 'everywhere' | 'publisher';

export interface EventBusOptions {
  db: Knex;
  /** The server to LISTEN on; null on the embedded database. */
  listenUrl: string | null;
  catalogue: EventCatalogue;
  log: Logger;
}

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
const listenConnectTimeoutMs = 2_000;
const maxReconnectDelayMs = 2_000;
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
  private readonly publisherListeners = new Set<EventListener>();
  private readonly db: Knex;
  private readonly listenUrl: string | null;
  private readonly catalogue: EventCatalogue;
  private readonly log: Logger;
  private listener: pg.Client | null = null;
  private stopped = false;
  private lastSeenId = 0;
  private reconnectDelayMs = 500;
  private reconnectTimer: NodeJS.Timeout | null = null;

  constructor(options: EventBusOptions) {
    this.db = options.db;
    this.listenUrl = options.listenUrl;
    this.catalogue = options.catalogue;
    this.log = options.log;
  }

  async start(): Promise<void> {
    const last = await this.db('events').max<{ max: string | number | null }>('id as max').first();
    this.lastSeenId = Number(last?.max ?? 0);
    if (this.listenUrl) await this.connect();
  }

  private async connect(): Promise<void> {
    // Bounded, so a blackholed network fails this attempt and the next one is scheduled.
    const client = new pg.Client({ connectionString: this.listenUrl as string, connectionTimeoutMillis: listenConnectTimeoutMs, keepAlive: true });
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
    // Capped low: events are caught up from the table on reconnect, but until then this replica's
    // subscribers hear nothing, so once the server is back it must be found within seconds.
    this.reconnectDelayMs = Math.min(this.reconnectDelayMs * 2, maxReconnectDelayMs);
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
    this.deliver(this.listeners, event);
  }

  private deliver(listeners: ReadonlySet<EventListener>, event: PanelEvent): void {
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (err) {
        this.log.error({ err, event_type: event.type }, 'event subscriber failed');
      }
    }
  }

  /**
   * Records and announces an event; inside `trx`, only once (and if) it commits. The data is
   * checked against the definition, and the definition against the catalogue: a mismatch is
   * a bug in the publisher and throws before anything is written.
   */
  async publish<D extends EventDefinition>(definition: D, userId: string | null, data: EventData<D>, trx?: Knex.Transaction): Promise<PanelEvent<EventData<D>>> {
    this.catalogue.require(definition);
    if ((definition.audience === 'owner') !== (userId !== null)) {
      throw new EventContractError(`event "${definition.id}" is for ${definition.audience === 'owner' ? 'its owner and needs a user id' : 'admins and takes no user id'}`);
    }
    const parsed = definition.schema.safeParse(data);
    if (!parsed.success) throw new EventContractError(`event "${definition.id}" has invalid data: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    const db = trx ?? this.db;
    const [row] = await db('events')
      .insert({ type: definition.id, user_id: userId, data: JSON.stringify(parsed.data) })
      .returning<EventRow[]>('*');
    const event = toEvent(row as EventRow);
    if (this.listenUrl) {
      const payload = JSON.stringify(event);
      await db.raw('SELECT pg_notify(?, ?)', [channel, Buffer.byteLength(payload) <= maxInlinePayload ? payload : JSON.stringify({ id: event.id, ref: true })]);
    }
    // In-process delivery: to everyone on the embedded database (there is no NOTIFY), and to
    // publisher-only handlers on both engines; inside a transaction, only once it commits.
    const local = (): void => {
      if (!this.listenUrl) this.dispatch(event);
      this.deliver(this.publisherListeners, event);
    };
    if (trx) void trx.executionPromise.then(local, () => undefined);
    else local();
    return event as PanelEvent<EventData<D>>;
  }

  /** Calls `handler` with typed data for each event of these definitions (see HandlerPlacement). Returns the unsubscribe. */
  on<D extends EventDefinition>(definitions: D | readonly D[], handler: (event: PanelEvent<EventData<D>>) => void, options: { placement?: HandlerPlacement } = {}): () => void {
    const ids = new Set((Array.isArray(definitions) ? definitions : [definitions]).map((d: EventDefinition) => d.id));
    const listener: EventListener = (event) => {
      if (ids.has(event.type)) handler(event as PanelEvent<EventData<D>>);
    };
    const set = options.placement === 'publisher' ? this.publisherListeners : this.listeners;
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Every event, untyped: for the portal's stream, which forwards what it is allowed to see. */
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
