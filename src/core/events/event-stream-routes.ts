import { PassThrough } from 'node:stream';
import { z } from 'zod';
import { defineRoute, type RouteDefinition } from '../http/route.ts';
import { ForbiddenError } from '../http/errors.ts';
import type { Tickets } from '../auth/tickets.ts';
import type { Principal } from '../http/principal.ts';
import { matches, type EventBus, type EventFilter, type PanelEvent } from './event-bus.ts';
import type { EventCatalogue } from './event-catalogue.ts';

export interface EventStreamSettings {
  /** Checked at every heartbeat: a stream ends when its session does. */
  stillValid: (principal: Principal) => Promise<boolean>;
  heartbeatMs: number;
  publicUrl: string;
  /** A client this far behind (bytes queued) is cut off; it reconnects with Last-Event-ID. */
  maxBufferedBytes: number;
  /** The event types listed in the route's documentation. */
  catalogue: EventCatalogue;
}

const ticketPurpose = 'events';

/** One event as the stream's `data:` carries it (the OpenAPI item schema of the stream). */
const panelEventSchema = z
  .object({ id: z.number().int(), type: z.string(), user_id: z.uuid().nullable(), data: z.unknown(), created_at: z.iso.datetime() })
  .describe('One Server-Sent Event: `id` and `event` (its type) repeat the fields below; `data` is this object as JSON');

function frame(event: PanelEvent): string {
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify({ ...event })}\n\n`;
}

/** Open streams, so shutdown can end them (clients reconnect to another replica and resume). */
export class EventStreams {
  private readonly open = new Set<PassThrough>();

  add(stream: PassThrough): void {
    this.open.add(stream);
    stream.once('close', () => this.open.delete(stream));
  }

  closeAll(): void {
    for (const stream of this.open) stream.end();
  }

  get size(): number {
    return this.open.size;
  }
}

export function eventStreamRoutes(bus: EventBus, tickets: Tickets, streams: EventStreams, settings: EventStreamSettings): RouteDefinition[] {
  return [
    defineRoute({
      method: 'post',
      path: '/api/events/ticket',
      summary: 'A single-use, 60-second ticket for opening the event stream without an Authorization header (EventSource)',
      tags: ['events'],
      auth: 'user',
      responses: { 201: z.object({ ticket: z.string(), expires_at: z.iso.datetime(), url: z.string() }) },
      examples: { responses: { 201: { ticket: 'tkt_3f9c2a7e5b1d4c8a', expires_at: '2026-11-23T09:01:00.000Z', url: 'https://panel.example.org/api/events?ticket=tkt_3f9c2a7e5b1d4c8a' } } },
      handler: async ({ principal }) => {
        const issued = await tickets.issue(principal.userId, ticketPurpose, null, 60);
        const url = `${settings.publicUrl.replace(/\/$/, '')}/api/events?ticket=${encodeURIComponent(issued.ticket)}`;
        return { status: 201, body: { ticket: issued.ticket, expires_at: issued.expiresAt.toISOString(), url } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/events',
      summary: "Server-Sent Events: the caller's live state changes (admins: everyone's, or one user's)",
      description:
        'text/event-stream. Each event has `id`, `event` (its type) and JSON `data`. ' +
        'Send Last-Event-ID (or ?last_event_id=) to resume after a disconnect; recent events are kept for a day. A comment line is sent every heartbeat. ' +
        'Authenticate with the bearer header, or ?ticket= from POST /api/events/ticket.\n\nEvent types (`owner`: the owner and admins see it; `admins`: only admins):\n' +
        settings.catalogue
          .list()
          .map(({ definition: d }) => `- \`${d.id}\` (${d.audience}): ${d.description}`)
          .join('\n'),
      tags: ['events'],
      auth: 'user',
      ticketPurpose,
      request: {
        query: z.object({
          ticket: z.string().optional(),
          types: z
            .string()
            .max(500)
            .optional()
            .describe(`comma-separated event types, of: ${settings.catalogue.ids().join(', ')}`),
          user_id: z.uuid().optional().describe("admins: only this user's events"),
          last_event_id: z.coerce.number().int().nonnegative().optional(),
        }),
      },
      contentType: 'text/event-stream',
      responses: { 200: panelEventSchema },
      examples: {
        responses: {
          200: 'id: 42\nevent: instance.state\ndata: {"id":42,"type":"instance.state","user_id":"6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21","data":{"instance_id":"5d0c8a3e-1f2b-4c6d-8e9f-0a1b2c3d4e5f","lifecycle":"active"},"created_at":"2026-11-23T09:00:41.000Z"}\n\n',
        },
      },
      handler: async ({ principal, query, headers, ctx }) => {
        const me = principal;
        if (query.user_id !== undefined && me.role !== 'admin' && query.user_id !== me.userId) throw new ForbiddenError();
        const filter: EventFilter = {
          userId: me.role === 'admin' ? query.user_id : me.userId,
          types: query.types
            ? query.types
                .split(',')
                .map((t) => t.trim())
                .filter(Boolean)
            : undefined,
        };
        const header = headers['last-event-id'];
        const fromHeader = typeof header === 'string' && /^\d+$/.test(header) ? Number(header) : undefined;
        const resumeAfter = fromHeader ?? query.last_event_id;

        const stream = new PassThrough();
        streams.add(stream);
        ctx.req.socket.setTimeout(0);
        ctx.req.socket.setNoDelay(true);
        ctx.status = 200;
        ctx.set({ 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
        ctx.body = stream;

        let replaying = true;
        const queued: PanelEvent[] = [];
        const replayed = new Set<number>();
        const send = (event: PanelEvent): void => {
          stream.write(frame(event));
          if (stream.writableLength > settings.maxBufferedBytes) stream.end();
        };
        // Subscribe before replaying, so nothing published in between is lost; duplicates are skipped by id.
        const unsubscribe = bus.subscribe((event) => {
          if (!matches(event, filter)) return;
          if (replaying) queued.push(event);
          else send(event);
        });
        const heartbeat = setInterval(() => {
          stream.write(': ping\n\n');
          settings.stillValid(me).then(
            (valid) => {
              if (!valid) stream.end();
            },
            () => undefined,
          );
        }, settings.heartbeatMs);
        stream.once('close', () => {
          unsubscribe();
          clearInterval(heartbeat);
        });
        stream.write('retry: 3000\n\n');
        if (resumeAfter !== undefined) {
          // Page through everything missed; live events wait in the queue meanwhile.
          for (let after = resumeAfter; ;) {
            const page = await bus.replay(after, filter, 500);
            for (const event of page) {
              replayed.add(event.id);
              send(event);
              after = event.id;
            }
            if (page.length < 500 || stream.destroyed) break;
          }
        }
        replaying = false;
        // Events that arrived live during the replay, minus those the replay already sent.
        for (const event of queued) if (!replayed.has(event.id)) send(event);
        return undefined;
      },
    }),
  ];
}
