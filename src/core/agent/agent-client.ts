import http from 'node:http';
import https from 'node:https';
import type { z } from 'zod';
import { agentEndpoints, agentErrorSchema, type AgentEndpoint } from '../../contracts/agent.ts';
import { AgentBadResponseError, AgentRequestError, AgentTimeoutError, AgentUnreachableError } from './agent-errors.ts';
import { isUnreachableCode } from './network-errors.ts';
import { CircuitBreakers, type BreakerSettings } from './circuit-breaker.ts';

/** Where an agent lives and how to authenticate to it. */
export interface AgentTarget {
  baseUrl: string;
  token: string;
}

export type CallKind = 'poll' | 'action' | 'backup';

export interface AgentClientSettings {
  timeouts: Record<CallKind, { connectMs: number; totalMs: number }>;
  maxResponseBytes: number;
  maxSockets: number;
  breaker: BreakerSettings;
  /** Sent as `X-Panel-Replica` on every call, so an agent (and its logs) can tell which replica asked. */
  replicaId?: string;
}

export interface CallOptions {
  kind?: CallKind;
  requestId?: string;
  body?: unknown;
  query?: Record<string, string | number>;
  params?: Record<string, string>;
  /** Polls have their own backoff: they go through an open circuit and only report to it. */
  ignoreBreaker?: boolean;
}

/** What came back over the wire, before any meaning is given to it. */
export interface RawAnswer {
  status: number;
  body: unknown;
}

export type Answer<E extends AgentEndpoint> = (typeof agentEndpoints)[E]['answer'] extends z.ZodType ? z.output<(typeof agentEndpoints)[E]['answer']> : null;

/** The reused connection was already closed by the agent; nothing reached it. */
class StaleConnection extends AgentUnreachableError {
  constructor() {
    super('ECONNRESET');
  }
}

/**
 * The only code that speaks HTTP to agents (streams and the console WebSocket sit beside
 * it). Keep-alive pooled connections, per-kind connect and total timeouts, bounded and
 * validated answers, errors mapped to the API's agent codes, a circuit breaker per agent.
 */
export class AgentClient {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  readonly breakers: CircuitBreakers;

  constructor(private readonly settings: AgentClientSettings) {
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: settings.maxSockets, maxFreeSockets: settings.maxSockets, scheduling: 'lifo' });
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets: settings.maxSockets, maxFreeSockets: settings.maxSockets, scheduling: 'lifo' });
    this.breakers = new CircuitBreakers(settings.breaker);
  }

  /** Calls one contract endpoint and returns its validated success body (null for bodiless answers). */
  async call<E extends AgentEndpoint>(target: AgentTarget, endpoint: E, options: CallOptions = {}): Promise<Answer<E>> {
    const spec = agentEndpoints[endpoint];
    const answer = await this.request(target, spec.method, spec.path, options);
    if (answer.status >= 200 && answer.status < 300) {
      if (spec.answer === null) return null as Answer<E>;
      const parsed = spec.answer.safeParse(answer.body);
      if (!parsed.success) throw new AgentBadResponseError(`the ${endpoint} answer does not match the agent contract`, answer.status, answer.body);
      return parsed.data as Answer<E>;
    }
    if (answer.status >= 400 && answer.status < 500) {
      const body = agentErrorSchema.safeParse(answer.body);
      throw new AgentRequestError(answer.status, body.success ? body.data : answer.body);
    }
    throw new AgentBadResponseError(`the agent answered HTTP ${answer.status}`, answer.status, answer.body);
  }

  /**
   * One HTTP exchange. Every status comes back as data; only transport failures throw
   * (unreachable, timeout, an oversized or non-JSON body). `body` is parsed JSON, or null.
   */
  async request(target: AgentTarget, method: string, pathTemplate: string, options: CallOptions = {}): Promise<RawAnswer> {
    const key = target.baseUrl;
    const blocked = options.ignoreBreaker ? 0 : this.breakers.blockedFor(key);
    if (blocked > 0) throw new AgentUnreachableError(`circuit open for ${Math.ceil(blocked / 1000)} s after repeated failures`);
    try {
      const path = this.pathFor(pathTemplate, options);
      const answer = await this.exchange(target, method, path, options).catch((err: unknown) => {
        // A pooled keep-alive connection the agent had just closed: a GET is safe to send again.
        if (method === 'GET' && err instanceof StaleConnection) return this.exchange(target, method, path, options);
        throw err;
      });
      this.breakers.succeeded(key);
      return answer;
    } catch (err) {
      if (err instanceof AgentUnreachableError || err instanceof AgentTimeoutError) this.breakers.failed(key);
      else this.breakers.succeeded(key);
      throw err;
    }
  }

  private pathFor(template: string, options: CallOptions): string {
    let path = template.replace(/:([a-z_]+)/g, (_m, name: string) => encodeURIComponent(options.params?.[name] ?? ''));
    if (options.query) {
      const search = new URLSearchParams();
      for (const [name, value] of Object.entries(options.query)) search.set(name, String(value));
      path += `?${search.toString()}`;
    }
    return path;
  }

  private exchange(target: AgentTarget, method: string, path: string, options: CallOptions): Promise<RawAnswer> {
    const timeouts = this.settings.timeouts[options.kind ?? 'action'];
    const url = new URL(`${target.baseUrl.replace(/\/$/, '')}${path}`);
    const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    return new Promise<RawAnswer>((resolve, reject) => {
      let settled = false;
      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(totalTimer);
        clearTimeout(connectTimer);
        fn();
      };
      const headers: Record<string, string> = { Authorization: `Bearer ${target.token}`, Accept: 'application/json' };
      if (options.requestId) headers['X-Request-Id'] = options.requestId;
      if (this.settings.replicaId) headers['X-Panel-Replica'] = this.settings.replicaId;
      if (payload) {
        headers['Content-Type'] = 'application/json';
        headers['Content-Length'] = String(payload.length);
      }
      const req = (url.protocol === 'https:' ? https : http).request(url, { method, headers, agent: url.protocol === 'https:' ? this.httpsAgent : this.httpAgent });
      // Our own give-ups settle the promise first, then cut the connection without an error
      // object, so nothing is left to surface as an unhandled 'error' later.
      const giveUp = (error: Error): void => {
        finish(() => reject(error));
        req.destroy();
      };
      let connectTimer: NodeJS.Timeout | undefined;
      const totalTimer = setTimeout(() => giveUp(new AgentTimeoutError('response', timeouts.totalMs)), timeouts.totalMs);
      req.on('socket', (socket) => {
        if (!socket.connecting) return; // a reused keep-alive connection
        connectTimer = setTimeout(() => giveUp(new AgentTimeoutError('connect', timeouts.connectMs)), timeouts.connectMs);
        socket.once('connect', () => clearTimeout(connectTimer));
      });
      const onTransportError = (err: NodeJS.ErrnoException): void => {
        finish(() => {
          if (req.reusedSocket && err.code === 'ECONNRESET' && !responded) return reject(new StaleConnection());
          if (err.code === 'ETIMEDOUT') reject(new AgentTimeoutError('connect', timeouts.connectMs));
          else if (isUnreachableCode(err.code)) reject(new AgentUnreachableError(err.code));
          else reject(new AgentBadResponseError(`transport error: ${err.code ?? err.message}`, null));
        });
      };
      req.on('error', onTransportError);
      let responded = false;
      req.on('response', (res) => {
        responded = true;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > this.settings.maxResponseBytes) giveUp(new AgentBadResponseError(`the answer is larger than ${this.settings.maxResponseBytes} bytes`, res.statusCode ?? null));
          else chunks.push(chunk);
        });
        res.on('error', onTransportError);
        res.on('aborted', () => onTransportError(Object.assign(new Error('the agent closed the connection mid-answer'), { code: 'ECONNRESET' })));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = null;
          if (text !== '') {
            try {
              body = JSON.parse(text) as unknown;
            } catch {
              // A 2xx that is not JSON breaks the contract; an error page from a proxy is kept as text.
              if (status >= 200 && status < 300) return finish(() => reject(new AgentBadResponseError('the answer is not JSON', status, text.slice(0, 200))));
              body = text.slice(0, 500);
            }
          }
          finish(() => resolve({ status, body }));
        });
      });
      if (payload) req.end(payload);
      else req.end();
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
