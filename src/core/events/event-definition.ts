import type { z } from 'zod';

/**
 * Who sees an event on the portal's stream. `owner`: it is published with the owner's user
 * id, and that user and admins see it. `admins`: it is published without a user (replica
 * coordination, admin-only state), and only admins see it.
 */
export type EventAudience = 'owner' | 'admins';

/** One kind of event: its id, the shape of its data, and who may see it. */
export interface EventDefinition<Id extends string = string, S extends z.ZodType = z.ZodType> {
  /** `<owner>.<name>`; a plugin's ids start with its own id. */
  id: Id;
  description: string;
  audience: EventAudience;
  /** Validates `data` when the event is published. */
  schema: S;
}

/** The data a subscriber receives for a definition. */
export type EventData<D extends EventDefinition> = z.output<D['schema']>;

/** An event as stored, streamed and handed to subscribers. */
export interface PanelEvent<Data = unknown> {
  id: number;
  type: string;
  /** Whose event it is (the instance owner); null for events only admins see. */
  user_id: string | null;
  data: Data;
  created_at: string;
}

/** Lets TypeScript keep the id literal and the schema's type. */
export function defineEvent<const Id extends string, S extends z.ZodType>(definition: EventDefinition<Id, S>): EventDefinition<Id, S> {
  return definition;
}
