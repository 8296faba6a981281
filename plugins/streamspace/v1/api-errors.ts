import { AppError } from '../../../src/plugin-api/index.ts';
import { adviceFor } from './state-advice.ts';

/** The seed's error codes (streamspace-api-reference "Error Codes"), one constructor each. */
export const v1Errors = {
  sessionNotFound: (id: string) => new AppError(404, 'SESSION_NOT_FOUND', 'Session not found', `No session with ID '${id}' exists`),
  sessionExists: (name: string) =>
    new AppError(409, 'SESSION_ALREADY_EXISTS', 'Session already exists', `A live session named '${name}' already exists; pick another name or terminate it first`, { field: 'name' }),
  invalidTransition: (from: string, to: string) =>
    new AppError(400, 'INVALID_STATE_TRANSITION', 'Invalid state transition', `Cannot transition from '${from}' to '${to}'; ${adviceFor(from, '{id}')}`, { from, to }),
  sessionTerminating: (id: string) => new AppError(409, 'SESSION_TERMINATING', 'Session is terminating', `Session '${id}' is already terminating; wait for it to reach 'terminated'`),
  sessionNotRunning: (id: string, state: string) =>
    new AppError(409, 'SESSION_NOT_RUNNING', 'Session is not running', `Session '${id}' is '${state}'; VNC needs a running session: ${adviceFor(state, id)}`, { state }),
  subprotocolUnsupported: (offered: readonly string[]) =>
    new AppError(
      400,
      'VNC_SUBPROTOCOL_UNSUPPORTED',
      'Unsupported WebSocket subprotocol',
      `This relay speaks raw RFB in binary frames: offer the 'binary' subprotocol or none (offered: ${offered.join(', ')}); 'base64' is not supported`,
      { offered: [...offered] },
    ),
  tooManyViewers: (max: number) => new AppError(429, 'VNC_VIEWER_LIMIT', 'Too many viewers', `This session already has ${max} viewers; close one and retry`, { max }),
  tooManyUserViewers: (max: number) => new AppError(429, 'VNC_USER_VIEWER_LIMIT', 'Too many viewers', `You already have ${max} VNC viewers open; close one and retry`, { max }),
  templateNotFound: (name: string, status: 400 | 404) =>
    new AppError(status, 'TEMPLATE_NOT_FOUND', status === 400 ? 'Invalid request' : 'Template not found', `Template '${name}' does not exist`, { field: 'template' }),
  templateExists: (name: string) => new AppError(409, 'TEMPLATE_ALREADY_EXISTS', 'Template already exists', `A template named '${name}' already exists; PATCH it instead`),
  templateInvalid: (message: string, details: Record<string, unknown>) => new AppError(400, 'TEMPLATE_INVALID', 'Template configuration invalid', message, details),
  templateInUse: (name: string, sessions: number) =>
    new AppError(409, 'TEMPLATE_IN_USE', 'Template in use', `Template '${name}' is used by ${sessions} live session(s); terminate them first`, { sessions }),
  agentNotFound: (id: string) => new AppError(404, 'AGENT_NOT_FOUND', 'Agent not found', `No agent with ID '${id}' exists`),
  agentOffline: (id: string) => new AppError(503, 'AGENT_OFFLINE', 'Agent is offline', `Agent '${id}' is offline; retry once it reconnects`, { agent_id: id }, { 'Retry-After': '10' }),
  noAgents: (what: string) => new AppError(503, 'NO_AGENTS_AVAILABLE', 'No agents available', `No online agents available for ${what}`, {}, { 'Retry-After': '30' }),
  capacityExceeded: (what: string) =>
    new AppError(503, 'AGENT_CAPACITY_EXCEEDED', 'Agent capacity exceeded', `Every online agent for ${what} is at its max_sessions; retry later`, {}, { 'Retry-After': '30' }),
  agentTimeout: (what: string) => new AppError(504, 'AGENT_TIMEOUT', 'Agent timeout', `The agent did not answer ${what} in time; retry`),
  commandFailed: (message: string, code: string | null) => new AppError(502, 'AGENT_COMMAND_FAILED', 'Agent command failed', message, { agent_error_code: code }),
  offlineStatusReserved: () =>
    new AppError(400, 'VALIDATION_FAILED', 'Validation failed', "Only 'online' and 'draining' can be set; 'offline' is set by the control plane when the agent disconnects", { field: 'status' }),
  /** The seed's 429 body: `retry_after` in the envelope (and Retry-After). */
  rateLimited: (retryAfterS: number) =>
    new AppError(
      429,
      'RATE_LIMIT_EXCEEDED',
      'Rate limit exceeded',
      `Too many requests. Please try again in ${retryAfterS} seconds.`,
      { retry_after: retryAfterS },
      { 'Retry-After': String(retryAfterS) },
    ),
  insufficientPermissions: (message: string) => new AppError(403, 'AUTH_INSUFFICIENT_PERMISSIONS', 'Forbidden', message),
};
