import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { pipeline } from 'node:stream/promises';
import type { Context } from 'koa';
import type { AgentTarget } from './agent-client.ts';
import { AgentBadResponseError, AgentRequestError, AgentTimeoutError, AgentUnreachableError, RangeNotSatisfiableError } from './agent-errors.ts';
import { isUnreachableCode } from './network-errors.ts';
import { AppError, PayloadTooLargeError } from '../http/errors.ts';

export interface StreamSettings {
  /** No bytes either way for this long: the exchange is cut (a stall, not a long transfer). */
  stallMs: number;
  /** Largest upload passed on; crossing it mid-stream answers 413 and aborts the agent's request. */
  maxUploadBytes: number;
}

export interface StreamCall {
  path: string;
  query?: Record<string, string>;
  requestId: string;
}

/** An error whose answer also closes the connection: the rest of the client's body is never read. */
function closing<E extends AppError>(error: E): E {
  Object.assign(error.headers, { Connection: 'close' });
  return error;
}

/**
 * Buffering of each agent stream's socket and request/answer objects (Node 20's default is 16 KiB).
 * A socket read is up to 64 KiB, so at 16 KiB every chunk paused and resumed the other side;
 * this lets a few chunks queue, and bounds what one transfer holds to about twice this.
 */
const streamHighWaterMark = 256 * 1024;

/** An agent's options reach net.Socket, whose stream options include highWaterMark (@types/node does not list it there). */
const agentOptions: http.AgentOptions & { highWaterMark: number } = { keepAlive: true, maxSockets: 256, highWaterMark: streamHighWaterMark };

/** Headers of an agent's download answer that the client gets too. */
const passedOn = ['content-type', 'content-length', 'content-range', 'accept-ranges', 'last-modified', 'etag', 'x-checksum-sha256'];

function urlOf(target: AgentTarget, call: StreamCall): URL {
  const url = new URL(`${target.baseUrl.replace(/\/$/, '')}${call.path}`);
  for (const [k, v] of Object.entries(call.query ?? {})) url.searchParams.set(k, v);
  return url;
}

/** A non-2xx agent answer (read whole: it is a small JSON error) as the API's agent error. */
async function agentFailure(res: IncomingMessage): Promise<Error> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res) {
      size += (chunk as Buffer).length;
      if (size <= 64 * 1024) chunks.push(chunk as Buffer);
    }
  } catch {
    // The connection closed after the status line: what arrived is all there is.
  }
  let body: unknown = Buffer.concat(chunks).toString('utf8');
  try {
    body = JSON.parse(body as string) as unknown;
  } catch {
    // kept as text
  }
  const status = res.statusCode ?? 0;
  return status >= 400 && status < 500 ? new AgentRequestError(status, body) : new AgentBadResponseError(`the agent answered HTTP ${status}`, status, body);
}

/**
 * A chunked body (no Content-Length, which the HTTP parser would hold it to) is counted as it
 * flows, by a listener beside the pipe rather than a stream in it; crossing the limit rejects
 * and cuts the agent's request before that chunk is passed on.
 */
function cutAtLimit(body: IncomingMessage, limit: number, upstream: http.ClientRequest): Promise<never> {
  return new Promise<never>((_resolve, reject) => {
    let size = 0;
    const count = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limit) return;
      body.off('data', count);
      reject(new PayloadTooLargeError(limit));
      upstream.destroy();
    };
    body.on('data', count);
  });
}

/**
 * Settles when the request's body has gone out: not stream.finished(), which for a ClientRequest
 * waits for its 'close', after the answer has been read.
 */
function sent(req: http.ClientRequest): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    req.once('finish', resolve);
    req.once('error', reject);
    req.once('close', () => reject(Object.assign(new Error('the agent closed the connection mid-upload'), { code: 'ECONNRESET' })));
  });
}

function transportError(err: NodeJS.ErrnoException): Error {
  if (err instanceof AgentTimeoutError || err instanceof PayloadTooLargeError) return err;
  if (isUnreachableCode(err.code)) return new AgentUnreachableError(err.code);
  return new AgentBadResponseError(`stream failed: ${err.code ?? err.message}`, null);
}

/**
 * Raw streams to and from agents (file contents, archives), beside the agentClient: bodies are
 * piped with backpressure both ways and never buffered whole; a stall (no bytes for
 * `stallMs`) cuts the exchange, a long steady transfer does not; a client that goes away
 * takes the agent request with it; an upload is cut at the limit (a declared length is checked
 * before the first byte, a chunked body counted as it flows).
 */
export class AgentStreams {
  private readonly httpAgent = new http.Agent(agentOptions);
  private readonly httpsAgent = new https.Agent(agentOptions);

  constructor(private readonly settings: StreamSettings) {}

  private open(target: AgentTarget, method: string, call: StreamCall, headers: Record<string, string>): http.ClientRequest {
    const url = urlOf(target, call);
    const secure = url.protocol === 'https:';
    const req = (secure ? https : http).request(url, {
      method,
      agent: secure ? this.httpsAgent : this.httpAgent,
      headers: { Authorization: `Bearer ${target.token}`, 'X-Request-Id': call.requestId, ...headers },
    });
    req.setTimeout(this.settings.stallMs, () => req.destroy(new AgentTimeoutError('response', this.settings.stallMs)));
    return req;
  }

  /** Pipes an agent's download to the client; errors before the first byte throw (the caller answers the envelope), later ones cut the connection. */
  async download(target: AgentTarget, call: StreamCall, res: ServerResponse, extraHeaders: Record<string, string>, conditions: Record<string, string> = {}): Promise<void> {
    const req = this.open(target, 'GET', call, conditions);
    res.once('close', () => {
      if (!res.writableFinished) req.destroy();
    });
    const answer = await new Promise<IncomingMessage>((resolve, reject) => {
      req.once('response', resolve);
      req.once('error', (err) => reject(transportError(err)));
      req.end();
    });
    if (answer.statusCode === 416) {
      answer.resume();
      throw new RangeNotSatisfiableError(typeof answer.headers['content-range'] === 'string' ? answer.headers['content-range'] : undefined);
    }
    if (answer.statusCode !== 200 && answer.statusCode !== 206) throw await agentFailure(answer);
    const headers: Record<string, string> = { ...extraHeaders };
    for (const name of passedOn) {
      const value = answer.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    res.writeHead(answer.statusCode, headers);
    await pipeline(answer, res).catch(() => {
      req.destroy();
      res.destroy();
    });
  }

  /**
   * Answers a Koa request with an agent's download: until the first byte an error still goes
   * out as the error envelope (thrown back to Koa); after it, the connection is cut.
   */
  async respond(koa: Context, target: AgentTarget, call: StreamCall, headers: Record<string, string>): Promise<void> {
    koa.respond = false;
    // A resumed download: the agent answers the range (206), or why not (416, or 200 whole when If-Range no longer holds).
    const conditions: Record<string, string> = {};
    if (typeof koa.headers.range === 'string') conditions.Range = koa.headers.range;
    if (typeof koa.headers['if-range'] === 'string') conditions['If-Range'] = koa.headers['if-range'];
    try {
      await this.download(target, call, koa.res, headers, conditions);
    } catch (err) {
      if (koa.res.headersSent) return;
      koa.respond = true;
      throw err;
    }
  }

  /** Pipes the client's body to the agent, cut at the limit; returns the agent's JSON answer. */
  async upload(target: AgentTarget, call: StreamCall, body: IncomingMessage): Promise<{ status: number; body: unknown }> {
    const limit = this.settings.maxUploadBytes;
    const declared = Number(body.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > limit) throw closing(new PayloadTooLargeError(limit));
    const req = this.open(target, 'PUT', call, { 'Content-Type': 'application/octet-stream', ...(Number.isFinite(declared) ? { 'Content-Length': String(declared) } : {}) });
    let early: IncomingMessage | null = null;
    const answered = new Promise<IncomingMessage>((resolve, reject) => {
      req.once('response', (res) => {
        early = res;
        resolve(res);
      });
      req.once('error', reject);
    });
    answered.catch(() => undefined);
    const clientGone = new Promise<never>((_resolve, reject) => {
      body.once('aborted', () => reject(new AgentBadResponseError('the client went away mid-upload', null)));
    });
    clientGone.catch(() => undefined);
    const tooLarge = Number.isFinite(declared) ? new Promise<never>(() => undefined) : cutAtLimit(body, limit, req);
    tooLarge.catch(() => undefined);
    // The client's request is piped by hand, not through pipeline(): on a refusal it must stay
    // open, so the 413 can still be written to it (and the connection then closed).
    body.pipe(req);
    try {
      // Cutting the agent's request mid-body makes the agent drop its temporary file.
      await Promise.race([sent(req), clientGone, tooLarge]);
    } catch (err) {
      body.unpipe(req);
      body.pause();
      // The agent refused before taking the whole body (a bad path, its own size limit): its answer says why.
      const refusal = early as IncomingMessage | null;
      const failure =
        err instanceof PayloadTooLargeError
          ? err
          : refusal && refusal.statusCode !== undefined && refusal.statusCode >= 400
            ? await agentFailure(refusal)
            : transportError(err as NodeJS.ErrnoException);
      req.destroy();
      throw failure instanceof AppError ? closing(failure) : failure;
    }
    const answer = await answered.catch((err: NodeJS.ErrnoException) => {
      throw transportError(err);
    });
    if (answer.statusCode === undefined || answer.statusCode < 200 || answer.statusCode >= 300) throw await agentFailure(answer);
    const chunks: Buffer[] = [];
    for await (const chunk of answer) chunks.push(chunk as Buffer);
    try {
      return { status: answer.statusCode, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown };
    } catch {
      throw new AgentBadResponseError('the upload answer is not JSON', answer.statusCode);
    }
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
