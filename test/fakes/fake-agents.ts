import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { FakeAgent, FaultMode } from './fake-agent-model.ts';
import { answerNormally, send } from './fake-agent-normal-mode.ts';

// Tests import FaultMode from here.
export type { FaultMode } from './fake-agent-model.ts';

/**
 * Many fake agents in one process, each at `<url>/a/<id>`, for tests and benchmarks. Each
 * can be switched to a fault: hang, answer slowly, 500, garbage, 200 with ready:false,
 * close the connection, or drip its body a byte at a time. In `normal` mode it follows the
 * agent contract with a small in-memory workload, so the contract tests can run against it.
 */
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

export interface FakeAgentsOptions {
  /** Sees every authenticated request as it arrives (before any fault applies): which agent, what, and its headers. */
  onRequest?: (agentId: string, route: string, headers: IncomingMessage['headers']) => void;
}

export async function startFakeAgents(options: FakeAgentsOptions = {}): Promise<FakeAgents> {
  const agents = new Map<string, FakeAgent>();
  const sockets = new Set<Socket>();
  const hung = new Set<ServerResponse>();
  const startedAt = Date.now();
  // Every mode that ends up following the contract (normal, slow, refuse, not_ready) answers through this.
  const normal = (agent: FakeAgent, req: IncomingMessage, res: ServerResponse, path: string, url: URL): Promise<void> => answerNormally(agent, req, res, path, url, startedAt);

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
