import { AgentClient } from '../../src/core/agent/agent-client.ts';

/** An agentClient with generous timeouts and no breaker to speak of, for talking to one agent in tests. */
export function testAgentClient(): AgentClient {
  return new AgentClient({
    timeouts: { poll: { connectMs: 1000, totalMs: 3000 }, action: { connectMs: 1000, totalMs: 15_000 }, backup: { connectMs: 1000, totalMs: 30_000 } },
    maxResponseBytes: 1024 * 1024,
    maxSockets: 8,
    breaker: { threshold: 100, cooldownMs: 100, maxCooldownMs: 100 },
  });
}
