import type { AgentEndpoint } from '../contracts/agent.ts';
import type { AgentTarget, Answer, CallOptions, RawAnswer } from '../core/agent/agent-client.ts';

/**
 * The one HTTP client for instance agents, as plugins see it: timeouts, the circuit breaker,
 * body limits and contract validation are the core's; a plugin names the endpoint.
 */
export interface Agents {
  /** Calls one endpoint of the agent contract and returns its validated success body (null for bodiless answers). */
  call<E extends AgentEndpoint>(target: AgentTarget, endpoint: E, options?: CallOptions): Promise<Answer<E>>;
  /** One raw exchange (every status comes back as data; only transport failures throw). */
  request(target: AgentTarget, method: string, pathTemplate: string, options?: CallOptions): Promise<RawAnswer>;
}
