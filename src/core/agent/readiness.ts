import { AppError } from '../http/errors.ts';
import type { AgentTarget, CallKind, RawAnswer } from './agent-client.ts';
import type { Agents } from '../../plugin-api/agents.ts';
import { AgentBadResponseError, AgentNotReadyError } from './agent-errors.ts';

/** The low-level result of asking `/ready`: what came back, or why nothing did. */
export type AgentReadyResult = { answered: true; status: number; body: unknown } | { answered: false; error: AppError };

/** Transport only: asks `/ready` and reports what happened, without judging it. */
export async function getAgentReady(client: Agents, target: AgentTarget, options: { requestId?: string; ignoreBreaker?: boolean; kind?: CallKind } = {}): Promise<AgentReadyResult> {
  try {
    const answer: RawAnswer = await client.request(target, 'GET', '/ready', { kind: 'poll', ...options });
    return { answered: true, status: answer.status, body: answer.body };
  } catch (err) {
    if (err instanceof AppError) return { answered: false, error: err };
    throw err;
  }
}

/**
 * The one semantic readiness check everybody shares: ready only when `/ready` answered
 * HTTP 200 with a JSON object whose `ready` is exactly `true`. Transport success is not readiness.
 */
export function isAgentReadyResult(result: AgentReadyResult): boolean {
  return result.answered && result.status === 200 && typeof result.body === 'object' && result.body !== null && (result.body as { ready?: unknown }).ready === true;
}

/** Why a result is not ready, in words for `error` and logs. */
export function notReadyReason(result: AgentReadyResult): string {
  if (!result.answered) return result.error.code;
  const reason = typeof result.body === 'object' && result.body !== null ? (result.body as { reason?: unknown }).reason : undefined;
  if (typeof reason === 'string' && reason !== '') return reason;
  return result.status === 200 ? 'ready is not true' : `HTTP ${result.status}`;
}

/** Throws unless the agent is semantically ready: transport errors as they are, otherwise AGENT_NOT_READY. */
export async function assertAgentReady(client: Agents, target: AgentTarget, options: { requestId?: string; kind?: CallKind } = {}): Promise<void> {
  const result = await getAgentReady(client, target, options);
  if (isAgentReadyResult(result)) return;
  if (!result.answered) throw result.error;
  // 503 is the contract's "not ready"; any other 5xx is a broken agent, as for every call.
  if (result.status >= 500 && result.status !== 503) throw new AgentBadResponseError(`/ready answered HTTP ${result.status}`, result.status, result.body);
  throw new AgentNotReadyError(notReadyReason(result));
}
