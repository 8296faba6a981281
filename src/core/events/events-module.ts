import type { Knex } from 'knex';
import type { Config } from '../../config/schema.ts';
import type { Logger } from '../log/logger.ts';
import type { CoreModule } from '../boot/core-module.ts';
import { EventBus } from './event-bus.ts';
import type { EventCatalogue } from './event-catalogue.ts';
import { pruneEventsJob } from './jobs/prune-events.ts';

export interface EventsModule extends CoreModule {
  bus: EventBus;
  catalogue: EventCatalogue;
}

/** The event bus: durable rows, fan-out across replicas, and typed in-process handlers. */
export function createEventsModule(options: { db: Knex; listenUrl: string | null; catalogue: EventCatalogue; config: Readonly<Config>; log: Logger }): EventsModule {
  const bus = new EventBus({ db: options.db, listenUrl: options.listenUrl, catalogue: options.catalogue, log: options.log.child({ component: 'events' }) });
  return {
    name: 'events',
    bus,
    catalogue: options.catalogue,
    jobs: [pruneEventsJob(bus, options.config.events.retention_rows)],
    start: () => bus.start(),
    stop: () => bus.stop(),
  };
}
