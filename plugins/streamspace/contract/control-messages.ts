import { z } from 'zod';
import { parseFrame } from './parse-frame.ts';
import { durationSeconds } from './duration.ts';

/**
 * The control plane's side of the agent protocol, as an agent parses it: every agent of ours
 * (the simulator, the desktop agent) reads its messages through this module. protocol.ts
 * validates the agent's side. These schemas are deliberately loose (unknown fields and
 * command types pass), so an agent keeps working with a control plane that adds to them.
 */

const record = z.record(z.string(), z.unknown());

export const agentCommandSchema = z.looseObject({
  type: z.literal('command'),
  command_id: z.string().min(1),
  command_type: z.string().min(1),
  session_id: z.string().min(1).nullish(),
  data: record.nullish(),
});
/** A command as an agent receives it. */
export type AgentCommand = z.infer<typeof agentCommandSchema>;

const controlMessage = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('register_ack'), agent_id: z.string().optional(), status: z.string().optional(), heartbeat_interval: z.string().optional() }),
  agentCommandSchema,
  z.looseObject({ type: z.literal('vnc_proxy_request'), session_id: z.string().min(1), proxy_id: z.string().min(1), data: record.nullish() }),
  z.looseObject({ type: z.literal('vnc_proxy_window'), proxy_id: z.string().min(1), bytes: z.number().int().positive() }),
  z.looseObject({ type: z.literal('vnc_proxy_close'), proxy_id: z.string().min(1), reason: z.string().optional() }),
]);
export type ReceivedControlMessage = z.infer<typeof controlMessage>;

/** One text frame → a message, or why it is not one. */
export function parseControlMessage(text: string): { message: ReceivedControlMessage } | { problem: string } {
  return parseFrame(controlMessage, text);
}

/**
 * heartbeat_interval → milliseconds. The contract says "10s"-style durations (durationSeconds);
 * "500ms" is accepted too, so tests can run the heartbeat fast. Null when unparsable.
 */
export function intervalMs(text: string): number | null {
  const ms = /^(\d{1,9})ms$/.exec(text);
  if (ms) return Number(ms[1]) > 0 ? Number(ms[1]) : null;
  const seconds = durationSeconds(text);
  return seconds !== null && seconds > 0 ? seconds * 1000 : null;
}
