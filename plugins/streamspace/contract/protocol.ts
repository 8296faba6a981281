import { z } from 'zod';
import { parseFrame } from './parse-frame.ts';
import { proxyIdBytes } from './vnc-frames.ts';

/**
 * The StreamSpace agent protocol (docs/streamspace.md, "Agents"),
 * as the seed defines it with this project's additions: one JSON message per text frame, both ways. VNC bytes travel
 * in binary frames (vnc-frames.ts).
 */

const agentId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/);
const capacity = z.looseObject({
  max_cpu: z.number().nonnegative().optional(),
  max_memory: z.number().nonnegative().optional(),
  max_sessions: z.number().int().nonnegative().optional(),
  current_sessions: z.number().int().nonnegative().optional(),
});

export const agentIdSchema = agentId;

/**
 * Our addition (a seed control plane ignores unknown fields): the sessions an agent has, in
 * `register` and in a `heartbeat` whenever the list changed since the one before. Absent means
 * an older agent that tells nothing; `[]` means it has none. States other than these mean "present".
 */
export const inventoryEntry = z.looseObject({
  session_id: z.string().min(1).max(128),
  state: z.string().min(1).max(32),
  vnc_port: z.number().int().nullish(),
});
export const inventorySchema = z.array(inventoryEntry).max(10_000);
export type InventoryEntry = z.infer<typeof inventoryEntry>;

export const registerMessage = z.looseObject({
  type: z.literal('register'),
  agent_id: agentId,
  platform: z.string().min(1).max(64),
  // Interoperating agents send null or "" for no region.
  region: z
    .string()
    .max(64)
    .nullish()
    .transform((r) => r || undefined),
  capacity: capacity.default({}),
  metadata: z.record(z.string(), z.unknown()).default({}),
  sessions: inventorySchema.optional(),
});

export const heartbeatMessage = z.looseObject({
  type: z.literal('heartbeat'),
  agent_id: agentId.optional(),
  timestamp: z.string().optional(),
  capacity: capacity.optional(),
  sessions: inventorySchema.optional(),
});

export const commandAckMessage = z.looseObject({
  type: z.literal('command_ack'),
  command_id: z.string().min(1).max(128),
  agent_id: agentId.optional(),
  status: z.string().optional(),
});

export const commandResultMessage = z.looseObject({
  type: z.literal('command_result'),
  command_id: z.string().min(1).max(128),
  agent_id: agentId.optional(),
  status: z.enum(['completed', 'failed']),
  result: z.record(z.string(), z.unknown()).optional(),
  // A long error (a failed image pull) is cut, not a reason to drop the whole result.
  error: z
    .string()
    .transform((e) => e.slice(0, 4096))
    .optional(),
  error_code: z
    .string()
    .transform((c) => c.slice(0, 128))
    .optional(),
});

const proxyId = z.string().length(proxyIdBytes);

export const vncReadyMessage = z.looseObject({ type: z.literal('vnc_proxy_ready'), proxy_id: proxyId });
export const vncErrorMessage = z.looseObject({ type: z.literal('vnc_proxy_error'), proxy_id: proxyId, error: z.string().max(1024).optional(), error_code: z.string().max(128).optional() });
export const vncWindowMessage = z.looseObject({ type: z.literal('vnc_proxy_window'), proxy_id: proxyId, bytes: z.number().int().positive() });
export const vncCloseMessage = z.looseObject({ type: z.literal('vnc_proxy_close'), proxy_id: proxyId, reason: z.string().max(1024).optional() });

/**
 * Our addition (unknown message types are ignored by a seed control plane): a session changed
 * on the agent without a command, e.g. its desktop crashed (`failed`) or was found stopped
 * after an agent restart (`hibernated`: its processes are gone, its home is kept).
 */
export const sessionStatusMessage = z.looseObject({
  type: z.literal('session_status'),
  agent_id: agentId.optional(),
  session_id: z.string().min(1).max(128),
  state: z.enum(['failed', 'hibernated']),
  reason: z.string().transform((r) => r.slice(0, 1024)),
});

/** Everything an agent may send in a text frame. */
export const agentMessage = z.discriminatedUnion('type', [
  registerMessage,
  heartbeatMessage,
  commandAckMessage,
  commandResultMessage,
  vncReadyMessage,
  vncErrorMessage,
  vncWindowMessage,
  vncCloseMessage,
  sessionStatusMessage,
]);
export type AgentMessage = z.infer<typeof agentMessage>;

export type CommandType = 'start_session' | 'hibernate_session' | 'wake_session' | 'stop_session' | 'get_session_logs';

/** What the control plane sends: `command` (all command types) and the VNC stream messages. */
export type ControlMessage =
  | { type: 'register_ack'; agent_id: string; status: 'registered'; heartbeat_interval: string }
  | { type: 'command'; command_id: string; command_type: CommandType; session_id: string | null; data: Record<string, unknown> }
  | { type: 'vnc_proxy_request'; session_id: string; proxy_id: string; data: Record<string, unknown> }
  | { type: 'vnc_proxy_window'; proxy_id: string; bytes: number }
  | { type: 'vnc_proxy_close'; proxy_id: string; reason: string };

/** Parses one text frame; null (with the reason) for anything that is not a known message. */
export function parseAgentMessage(text: string): { message: AgentMessage } | { problem: string; type?: unknown } {
  return parseFrame(agentMessage, text);
}
