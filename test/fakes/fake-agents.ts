import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * Many fake agents in one process, each at `<url>/a/<id>`, for tests and benchmarks. Each
 * can be switched to a fault: hang, answer slowly, 500, garbage, 200 with ready:false,
 * close the connection, or drip its body a byte at a time. In `normal` mode it follows the
 * agent contract with a small in-memory workload, so the contract tests can run against it.
 */
export type FaultMode =
  | { mode: 'normal' }
  | { mode: 'hang' }
  | { mode: 'slow'; delayMs: number }
  | { mode: 'error500' }
  | { mode: 'garbage' }
  | { mode: 'not_ready'; reason?: string; status?: 200 | 503 }
  | { mode: 'close' }
  | { mode: 'drip'; byteDelayMs: number }
  /** Answers `status` with a contract error body on the listed paths (`METHOD /path`, e.g. `POST /backups`); normal elsewhere. */
  | { mode: 'refuse'; status: number; routes: string[] };

interface Backup {
  id: string;
  name: string;
  state: 'in_progress' | 'completed' | 'failed';
  size_bytes: number | null;
  sha256: string | null;
  created_at: string;
  completed_at: string | null;
}

interface FakeAgent {
  id: string;
  token: string;
  fault: FaultMode;
  state: 'installing' | 'stopped' | 'starting' | 'running' | 'stopping' | 'crashed';
  since: string;
  startedAt: number;
  lines: string[];
  backups: Backup[];
  codeserver: 'running' | 'stopped';
  dev: boolean;
  requests: number;
  /** How long a restore stays in progress (`backup.in_progress`) before it completes. */
  restoreMs: number;
  /** How long a new backup stays `in_progress` (Infinity: forever). */
  backupMs: number;
  restoring: { id: string; until: number } | null;
  lastRestore: { id: string; state: 'completed'; error: null; finished_at: string } | null;
}

export interface FakeAgents {
  url: string;
  /** Adds an agent; returns its base URL and token. */
  add(options?: { id?: string; fault?: FaultMode; dev?: boolean; state?: FakeAgent['state']; restoreMs?: number; backupMs?: number }): { id: string; baseUrl: string; token: string };
  /** Forgets the agent's backups, as if its disk had been wiped. */
  dropBackups(id: string): void;
  setFault(id: string, fault: FaultMode): void;
  setState(id: string, state: FakeAgent['state']): void;
  requests(id: string): number;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown, requestId: string | undefined): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...(requestId ? { 'X-Request-Id': requestId } : {}) });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export interface FakeAgentsOptions {
  /** Sees every authenticated request as it arrives (before any fault applies): which agent, what, and its headers. */
  onRequest?: (agentId: string, route: string, headers: IncomingMessage['headers']) => void;
}

export async function startFakeAgents(options: FakeAgentsOptions = {}): Promise<FakeAgents> {
  const agents = new Map<string, FakeAgent>();
  const sockets = new Set<Socket>();
  const hung = new Set<ServerResponse>();
  const startedAt = Date.now();

  const normal = async (agent: FakeAgent, req: IncomingMessage, res: ServerResponse, path: string, url: URL): Promise<void> => {
    const rid = req.headers['x-request-id'] as string | undefined;
    const now = new Date().toISOString();
    const move = (state: FakeAgent['state']) => {
      agent.state = state;
      agent.since = now;
      agent.lines.push(`[fake] state ${state}`);
    };
    const route = `${req.method} ${path}`;
    if (agent.restoring && Date.now() >= agent.restoring.until) {
      agent.lastRestore = { id: agent.restoring.id, state: 'completed', error: null, finished_at: new Date().toISOString() };
      agent.restoring = null;
    }
    if (route === 'GET /health') return send(res, 200, { status: 'ok', agent: { version: '1.0.0-fake', uptime_s: Math.floor((Date.now() - startedAt) / 1000) } }, rid);
    if (route === 'GET /ready') return agent.state === 'installing' ? send(res, 503, { ready: false, reason: 'installing' }, rid) : send(res, 200, { ready: true }, rid);
    if (route === 'GET /status') {
      return send(
        res,
        200,
        {
          state: agent.state,
          since: agent.since,
          pid: agent.state === 'running' ? 4242 : null,
          uptime_s: agent.state === 'running' ? Math.floor((Date.now() - agent.startedAt) / 1000) : 0,
          resources: { cpu_percent: 1.5, memory_bytes: 1024 * 1024, disk_bytes: 4096 },
          ...(agent.dev ? { codeserver: { state: agent.codeserver, port: agent.codeserver === 'running' ? 8443 : null } } : {}),
          backup: { in_progress: agent.restoring?.id ?? agent.backups.find((b) => b.state === 'in_progress')?.id ?? null, last_restore: agent.lastRestore },
        },
        rid,
      );
    }
    if (route === 'POST /start') {
      if (agent.state === 'running' || agent.state === 'installing') return send(res, 409, { error: `cannot start while ${agent.state}`, code: 'conflict' }, rid);
      move('running');
      agent.startedAt = Date.now();
      return send(res, 202, { state: 'starting' }, rid);
    }
    if (route === 'POST /stop') {
      if (agent.state === 'stopped') return send(res, 409, { error: 'already stopped', code: 'conflict' }, rid);
      move('stopped');
      return send(res, 202, { state: 'stopping' }, rid);
    }
    if (route === 'POST /restart') {
      if (agent.state === 'installing') return send(res, 409, { error: 'installing', code: 'conflict' }, rid);
      move('running');
      agent.startedAt = Date.now();
      return send(res, 202, { state: 'starting' }, rid);
    }
    if (route === 'POST /console/command') {
      const body = await readJson(req);
      const command = (body as { command?: unknown } | undefined)?.command;
      if (typeof command !== 'string' || command.length < 1 || command.length > 4096) return send(res, 400, { error: 'command must be 1..4096 characters', code: 'bad_request' }, rid);
      if (agent.state !== 'running') return send(res, 409, { error: 'not running', code: 'not_running' }, rid);
      agent.lines.push(`> ${command}`);
      return send(res, 202, {}, rid);
    }
    if (route === 'GET /console/logs') {
      const lines = Math.min(1000, Math.max(1, Number(url.searchParams.get('lines') ?? 150) || 150));
      return send(res, 200, { lines: agent.lines.slice(-lines) }, rid);
    }
    if (route === 'GET /backups') return send(res, 200, { backups: [...agent.backups].reverse() }, rid);
    if (route === 'POST /backups') {
      if (agent.backups.some((b) => b.state === 'in_progress')) return send(res, 409, { error: 'a backup is in progress', code: 'busy' }, rid);
      const body = (await readJson(req)) as { name?: string } | undefined;
      const content = `${agent.id}:${agent.backups.length}`;
      const done: Backup = {
        id: `b_${randomUUID()}`,
        name: body?.name ?? 'backup',
        state: 'completed',
        size_bytes: content.length,
        sha256: createHash('sha256').update(content).digest('hex'),
        created_at: now,
        completed_at: now,
      };
      const backup: Backup = agent.backupMs > 0 ? { ...done, state: 'in_progress', size_bytes: null, sha256: null, completed_at: null } : done;
      agent.backups.push(backup);
      if (agent.backupMs > 0 && Number.isFinite(agent.backupMs)) {
        setTimeout(() => Object.assign(backup, { ...done, completed_at: new Date().toISOString() }), agent.backupMs).unref();
      }
      return send(res, 202, { backup }, rid);
    }
    if (route === 'POST /backups/restore') {
      const backup = agent.backups.find((b) => b.id === url.searchParams.get('id'));
      if (!backup) return send(res, 404, { error: 'no such backup', code: 'not_found' }, rid);
      if (agent.restoring) return send(res, 409, { error: 'a restore is in progress', code: 'busy' }, rid);
      move('stopped');
      agent.restoring = { id: backup.id, until: Date.now() + agent.restoreMs };
      return send(res, 202, { backup }, rid);
    }
    if (req.method === 'DELETE' && path.startsWith('/backups/')) {
      const index = agent.backups.findIndex((b) => b.id === decodeURIComponent(path.slice('/backups/'.length)));
      if (index < 0) return send(res, 404, { error: 'no such backup', code: 'not_found' }, rid);
      agent.backups.splice(index, 1);
      res.writeHead(204).end();
      return;
    }
    if (agent.dev && route === 'POST /dev/codeserver/start') {
      agent.codeserver = 'running';
      return send(res, 202, { state: 'running' }, rid);
    }
    if (agent.dev && route === 'POST /dev/codeserver/stop') {
      agent.codeserver = 'stopped';
      return send(res, 202, { state: 'stopped' }, rid);
    }
    if (agent.dev && route === 'POST /dev/codeserver/restart') {
      agent.codeserver = 'running';
      return send(res, 202, { state: 'running' }, rid);
    }
    return send(res, 404, { error: 'no such endpoint', code: 'not_found' }, rid);
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const match = /^\/a\/([^/]+)(\/.*)$/.exec(url.pathname);
    const agent = match ? agents.get(decodeURIComponent(match[1] as string)) : undefined;
    if (!match || !agent) return send(res, 404, { error: 'no such agent', code: 'not_found' }, undefined);
    agent.requests += 1;
    if (req.headers.authorization !== `Bearer ${agent.token}`) return send(res, 401, { error: 'bad token', code: 'unauthorized' }, undefined);
    const path = match[2] as string;
    options.onRequest?.(agent.id, `${req.method} ${path}`, req.headers);
    const fault = agent.fault;
    switch (fault.mode) {
      case 'normal':
        void normal(agent, req, res, path, url);
        return;
      case 'hang':
        hung.add(res);
        res.on('close', () => hung.delete(res));
        return;
      case 'slow':
        setTimeout(() => void normal(agent, req, res, path, url), fault.delayMs);
        return;
      case 'refuse':
        if (fault.routes.includes(`${req.method} ${path}`)) return send(res, fault.status, { error: `refused with ${fault.status} by the test`, code: 'refused' }, undefined);
        void normal(agent, req, res, path, url);
        return;
      case 'error500':
        return send(res, 500, { error: 'internal failure', code: 'internal' }, undefined);
      case 'garbage':
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{"ready": tru<html>not json');
        return;
      case 'not_ready':
        if (path === '/ready') return send(res, fault.status ?? 200, { ready: false, reason: fault.reason ?? 'warming up' }, undefined);
        void normal(agent, req, res, path, url);
        return;
      case 'close':
        req.socket.destroy();
        return;
      case 'drip': {
        const body = Buffer.from(JSON.stringify(path === '/ready' ? { ready: true } : { status: 'ok' }));
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
        let i = 0;
        const timer = setInterval(() => {
          if (i >= body.length || res.destroyed) {
            clearInterval(timer);
            if (!res.destroyed) res.end();
            return;
          }
          res.write(body.subarray(i, i + 1));
          i += 1;
        }, fault.byteDelayMs);
        res.on('close', () => clearInterval(timer));
        return;
      }
    }
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let counter = 0;

  return {
    url,
    add(options = {}) {
      counter += 1;
      const id = options.id ?? `agent-${counter}`;
      const token = `token-${id}-${randomUUID()}`;
      const now = new Date().toISOString();
      agents.set(id, {
        id,
        token,
        fault: options.fault ?? { mode: 'normal' },
        state: options.state ?? 'stopped',
        since: now,
        startedAt: Date.now(),
        lines: [],
        backups: [],
        codeserver: 'stopped',
        dev: options.dev ?? false,
        requests: 0,
        restoreMs: options.restoreMs ?? 0,
        backupMs: options.backupMs ?? 0,
        restoring: null,
        lastRestore: null,
      });
      return { id, baseUrl: `${url}/a/${encodeURIComponent(id)}`, token };
    },
    setFault(id, fault) {
      const agent = agents.get(id);
      if (!agent) throw new Error(`no fake agent ${id}`);
      agent.fault = fault;
    },
    setState(id, state) {
      const agent = agents.get(id);
      if (!agent) throw new Error(`no fake agent ${id}`);
      agent.state = state;
      agent.since = new Date().toISOString();
    },
    requests: (id) => agents.get(id)?.requests ?? 0,
    dropBackups(id) {
      const agent = agents.get(id);
      if (!agent) throw new Error(`no fake agent ${id}`);
      agent.backups = [];
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hung) res.destroy();
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
