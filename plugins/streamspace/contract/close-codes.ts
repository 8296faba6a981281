/** How the control plane ends an agent's socket: the agent reads the code to decide whether to reconnect and register again. */
export const agentCloseCodes = {
  policy: 1008,
  /** Silent for 3 heartbeat intervals, or the connection no longer speaks for the agent: reconnect and register. */
  stale: 4408,
  /** A newer connection registered with the same agent_id. */
  replaced: 4409,
  /** Its key was revoked. */
  revoked: 4401,
  shutdown: 1001,
} as const;
