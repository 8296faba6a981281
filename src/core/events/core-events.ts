import { z } from 'zod';
import { instanceStateSchema } from '../instances/instance-state.ts';
import { defineEvent, type EventDefinition } from './event-definition.ts';

/** An instance's normalized state changed (a poll, a lifecycle move). */
export const instanceState = defineEvent({
  id: 'instance.state',
  description: "An instance's normalized state changed: `{instance_id, kind, plugin, state, reason?}`.",
  audience: 'owner',
  schema: z.object({ instance_id: z.string(), kind: z.string(), plugin: z.string(), state: instanceStateSchema, reason: z.string().nullable().optional() }),
});

/** The instance's record is gone (its agent released). */
export const instanceDeleted = defineEvent({
  id: 'instance.deleted',
  description: 'An instance was deleted and its agent released: `{instance_id, kind, plugin}`.',
  audience: 'owner',
  schema: z.object({ instance_id: z.string(), kind: z.string(), plugin: z.string() }),
});

/** Sign-ins ended: all of a user's (`family_ids` null: disable, reset) or some of them (logout). */
export const userSessionsEnded = defineEvent({
  id: 'user.sessions_ended',
  description: "Some or all of a user's sign-ins ended (logout, password reset, disable): `{user_id, reason, family_ids}`; sockets and IDE sessions tied to them close.",
  audience: 'owner',
  schema: z.object({ user_id: z.string(), reason: z.string(), family_ids: z.array(z.string()).nullable() }),
});

/** A billing account changed (checkout, webhook, admin exemption). */
export const billingUpdated = defineEvent({
  id: 'billing.updated',
  description: "The caller's subscription changed: `{plan, status, current_period_end, cancel_at_period_end, pending_plan}`.",
  audience: 'owner',
  schema: z.object({ plan: z.string(), status: z.string(), current_period_end: z.string().nullable(), cancel_at_period_end: z.boolean(), pending_plan: z.string().nullable() }),
});

/**
 * A backup of an instance changed. The portal contract names it without a plugin prefix, so
 * the core owns the id; the plugin that keeps backups (game) publishes it.
 */
export const backupUpdated = defineEvent({
  id: 'backup.updated',
  description: 'A backup was created, changed state, restored or deleted: `{server_id, backup, deleted?, restore?}`.',
  audience: 'owner',
  schema: z.object({
    server_id: z.string(),
    backup: z.record(z.string(), z.unknown()),
    deleted: z.boolean().optional(),
    restore: z.object({ state: z.string(), error: z.string().nullable().optional() }).optional(),
  }),
});

export const coreEvents: readonly EventDefinition[] = [instanceState, instanceDeleted, userSessionsEnded, billingUpdated, backupUpdated];
