import { WebSocket } from 'ws';
import type { AgentTarget } from './agent-client.ts';
import { AgentBadResponseError, AgentRequestError, AgentTimeoutError, AgentUnreachableError } from './agent-errors.ts';
import { isUnreachableCode } from './network-errors.ts';

export interface AgentSocketOptions {
  requestId?: string;
  /** Time to connect and finish the handshake. */
  timeoutMs: number;
  /** Largest frame accepted from the agent. */
  maxPayloadBytes?: number;
}

/**
 * Opens a WebSocket to an agent endpoint (the console), beside the agentClient: a stream is
 * not a JSON call. Resolves once the socket is open, paused: call `resume()` once listeners
 * are attached. Refusals map to the same agent errors as the agentClient's, so the caller
 * answers them in the usual envelope.
 */
export function openAgentSocket(target: AgentTarget, path: string, options: AgentSocketOptions): Promise<WebSocket> {
  const url = new URL(`${target.baseUrl.replace(/\/$/, '')}${path}`);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const headers: Record<string, string> = { Authorization: `Bearer ${target.token}` };
  if (options.requestId) headers['X-Request-Id'] = options.requestId;
  const ws = new WebSocket(url, { headers, handshakeTimeout: options.timeoutMs, maxPayload: options.maxPayloadBytes ?? 1024 * 1024, perMessageDeflate: false });
  return new Promise<WebSocket>((resolve, reject) => {
    const fail = (error: Error): void => {
      ws.removeAllListeners('open');
      ws.terminate();
      reject(error);
    };
    ws.once('open', () => {
      // Paused here, synchronously: the agent's first frames may already be in the socket's
      // buffer, and would be emitted to nobody before the caller attaches its listeners.
      ws.pause();
      ws.removeAllListeners('unexpected-response');
      resolve(ws);
    });
    ws.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      fail(
        status >= 400 && status < 500
          ? new AgentRequestError(status, { error: `the agent refused the console connection (${status})`, code: 'upgrade_refused' })
          : new AgentBadResponseError(`the agent answered the upgrade with HTTP ${status}`, status),
      );
    });
    ws.on('error', (err: NodeJS.ErrnoException) => {
      if (ws.readyState === WebSocket.OPEN) return; // later errors belong to the caller's listeners
      if (/timed out/i.test(err.message)) fail(new AgentTimeoutError('connect', options.timeoutMs));
      else if (isUnreachableCode(err.code)) fail(new AgentUnreachableError(err.code));
      else fail(new AgentBadResponseError(`console connection failed: ${err.code ?? err.message}`, null));
    });
  });
}
