import { AppError } from '../http/errors.ts';

/** The agent could not be reached (refused, reset, no route, circuit open). */
export class AgentUnreachableError extends AppError {
  constructor(reason: string) {
    super(504, 'AGENT_UNREACHABLE', 'Agent unreachable', "The instance's agent cannot be reached; it may be stopped or starting. Retry shortly", { reason });
  }
}

export class AgentTimeoutError extends AppError {
  constructor(phase: 'connect' | 'response', timeoutMs: number) {
    super(504, 'AGENT_TIMEOUT', 'Agent timed out', `The instance's agent did not answer within ${timeoutMs} ms; retry shortly`, { phase, timeout_ms: timeoutMs });
  }
}

/** The agent answered 5xx, or something that is not the contract's JSON. */
export class AgentBadResponseError extends AppError {
  constructor(reason: string, agentStatus: number | null, agentBody?: unknown) {
    super(502, 'AGENT_BAD_RESPONSE', 'Bad answer from agent', "The instance's agent answered something unexpected; retry, and contact support if it persists", {
      reason,
      agent_status: agentStatus,
      ...(agentBody === undefined ? {} : { agent_body: agentBody }),
    });
  }
}

/** The agent refused the request (4xx): same status, its body in details. */
export class AgentRequestError extends AppError {
  constructor(agentStatus: number, agentBody: unknown) {
    const message =
      typeof agentBody === 'object' && agentBody !== null && typeof (agentBody as { error?: unknown }).error === 'string'
        ? (agentBody as { error: string }).error
        : `The agent refused the request (${agentStatus})`;
    super(agentStatus, 'AGENT_ERROR', 'Agent refused the request', message, { agent_status: agentStatus, agent_body: agentBody });
  }
}

export class AgentNotReadyError extends AppError {
  constructor(reason: string) {
    super(503, 'AGENT_NOT_READY', 'Agent not ready', `The instance's agent is not ready yet (${reason}); retry shortly`, { reason });
  }
}

/** The agent's 416: the asked range is not inside the file; `Content-Range: bytes *\/<size>` tells the client its size. */
export class RangeNotSatisfiableError extends AppError {
  constructor(contentRange: string | undefined) {
    const size = /^bytes \*\/(\d+)$/.exec(contentRange ?? '')?.[1];
    super(
      416,
      'RANGE_NOT_SATISFIABLE',
      'Range not satisfiable',
      'The requested byte range is not inside the file; see details.size_bytes',
      size === undefined ? {} : { size_bytes: Number(size) },
      contentRange === undefined ? { 'Accept-Ranges': 'bytes' } : { 'Content-Range': contentRange, 'Accept-Ranges': 'bytes' },
    );
  }
}
