import { z } from 'zod';
import { defineEvent } from '../../src/plugin-api/index.ts';

/** A session moved in its state machine; its viewers close on every replica when it is no longer running. */
export const sessionState = defineEvent({
  id: 'streamspace.session_state',
  description: 'A StreamSpace session changed state: `{session_id, state, phase}`.',
  audience: 'owner',
  schema: z.object({ session_id: z.string(), state: z.string(), phase: z.string() }),
});

/** The sweep took a silent agent offline; the replica holding that connection closes it. */
export const agentOffline = defineEvent({
  id: 'streamspace.agent_offline',
  description: 'A StreamSpace agent missed 3 heartbeats and is offline: `{agent_id, conn_id}`.',
  audience: 'admins',
  schema: z.object({ agent_id: z.string(), conn_id: z.string() }),
});

/** An agent registered on another replica; the old connection closes unless it is the current one. */
export const agentReplaced = defineEvent({
  id: 'streamspace.agent_replaced',
  description: 'A StreamSpace agent registered again (another connection replaces the old one): `{agent_id, conn_id}`.',
  audience: 'admins',
  schema: z.object({ agent_id: z.string(), conn_id: z.string() }),
});

/** An agent's key was rotated or revoked; connections opened with another key close. */
export const agentKeyChanged = defineEvent({
  id: 'streamspace.agent_key_changed',
  description: 'A StreamSpace agent key was issued, rotated or revoked: `{agent_id}`.',
  audience: 'admins',
  schema: z.object({ agent_id: z.string() }),
});

/** Commands were written for an agent that this replica does not hold; the replica that holds it sends them. */
export const commandsPending = defineEvent({
  id: 'streamspace.commands_pending',
  description: 'Commands wait for a StreamSpace agent connected to another replica: `{agent_id}`.',
  audience: 'admins',
  schema: z.object({ agent_id: z.string() }),
});

/** An agent's inventory disagreed with a session here, and reconciliation moved it (sessions/session-inventory.ts). */
export const sessionReconciled = defineEvent({
  id: 'streamspace.session_reconciled',
  description:
    'A StreamSpace session was reconciled with what its agent reported: `{session_id, agent_id, action, reason}`; action is `failed` (lost on the agent), `stop` or `hibernate` (a command sent to the agent).',
  audience: 'owner',
  schema: z.object({ session_id: z.string(), agent_id: z.string(), action: z.enum(['failed', 'stop', 'hibernate']), reason: z.string() }),
});

export const streamspaceEvents = [sessionState, agentOffline, agentReplaced, agentKeyChanged, commandsPending, sessionReconciled];
