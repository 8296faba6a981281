import type { Config } from '../../config/schema.ts';
import type { CoreModule } from '../boot/core-module.ts';
import type { Tickets } from '../auth/tickets.ts';
import type { Principal } from '../http/principal.ts';
import type { EventBus } from './event-bus.ts';
import type { EventCatalogue } from './event-catalogue.ts';
import { EventStreams, eventStreamRoutes } from './event-stream-routes.ts';

/** The portal's Server-Sent Events stream over the bus (it needs auth, which is built after the bus). */
export function createEventStreamModule(options: {
  bus: EventBus;
  catalogue: EventCatalogue;
  tickets: Tickets;
  stillValid: (principal: Principal) => Promise<boolean>;
  config: Readonly<Config>;
}): CoreModule {
  const streams = new EventStreams();
  return {
    name: 'event-stream',
    routes: eventStreamRoutes(options.bus, options.tickets, streams, {
      stillValid: options.stillValid,
      heartbeatMs: options.config.events.heartbeat_ms,
      publicUrl: options.config.server.public_url,
      maxBufferedBytes: 1024 * 1024,
      catalogue: options.catalogue,
    }),
    // Open streams end first: their clients reconnect to another replica and resume by Last-Event-ID.
    drain: async () => streams.closeAll(),
  };
}
