import type { Knex } from 'knex';
import type { EventData, EventDefinition, PanelEvent } from '../core/events/event-definition.ts';
import type { HandlerPlacement } from '../core/events/event-bus.ts';

/** Typed events: publish what the catalogue defines, handle what it delivers. */
export interface Events {
  /** Validates `data` against the definition; inside `trx`, announced only once it commits. */
  publish<D extends EventDefinition>(definition: D, userId: string | null, data: EventData<D>, trx?: Knex.Transaction): Promise<PanelEvent<EventData<D>>>;
  /** Calls `handler` for each event of these definitions; returns the unsubscribe. */
  on<D extends EventDefinition>(definitions: D | readonly D[], handler: (event: PanelEvent<EventData<D>>) => void, options?: { placement?: HandlerPlacement }): () => void;
}
