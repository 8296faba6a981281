import { AppError } from '../http/errors.ts';
import type { AgentClient, AgentTarget } from '../agent/agent-client.ts';
import { getAgentReady } from '../agent/readiness.ts';
import type { PollOutcome } from './instance-state.ts';

function asAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  return new AppError(502, 'AGENT_BAD_RESPONSE', 'Bad answer from agent', err instanceof Error ? err.message : String(err));
}

const isTransport = (e: AppError): boolean => e.code === 'AGENT_UNREACHABLE' || e.code === 'AGENT_TIMEOUT';

/** One poll of an agent: /health, then /ready, then /status; after a transport failure the rest are skipped. */
export async function askAgent(client: AgentClient, target: AgentTarget): Promise<PollOutcome> {
  const failed = (error: AppError) => ({ ok: false as const, error });
  const health = await client.call(target, 'health', { kind: 'poll', ignoreBreaker: true }).then(
    () => ({ ok: true as const }),
    (err: unknown) => failed(asAppError(err)),
  );
  if (!health.ok && isTransport(health.error)) return { health, ready: { answered: false, error: health.error }, status: health };
  const ready = await getAgentReady(client, target, { ignoreBreaker: true });
  if (!ready.answered && isTransport(ready.error)) return { health, ready, status: failed(ready.error) };
  const status = await client.call(target, 'status', { kind: 'poll', ignoreBreaker: true }).then(
    (body) => ({ ok: true as const, body }),
    (err: unknown) => failed(asAppError(err)),
  );
  return { health, ready, status };
}
