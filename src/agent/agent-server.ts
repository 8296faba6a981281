import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual, createHash } from 'node:crypto';
import { WebSocketServer } from 'ws';
import { consoleClientFrameSchema, consoleCommandSchema, createBackupSchema, healthSchema, readySchema, statusSchema, type Status } from '../contracts/agent.ts';
import type { Workload } from './workload.ts';
import { BackupError, type Backups } from './backups.ts';
import type { CodeServer } from './code-server.ts';
import { FileError, type Files } from './files.ts';

export interface AgentServerOptions {
  token: string;
  version: string;
  workload: Workload;
  backups: Backups;
  codeServer: CodeServer | null;
  files: Files;
  maxUploadBytes: number;
}

const maxBody = 64 * 1024;

function sameToken(given: string, expected: string): boolean {
  return timingSafeEqual(createHash('sha256').update(given).digest(), createHash('sha256').update(expected).digest());
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

const refuse = (res: ServerResponse, status: number, code: string, error: string) => send(res, status, { error, code });

async function readJson(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBody) throw new BackupError(413, 'too_large', 'body too large');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new BackupError(400, 'bad_request', 'body is not JSON');
  }
}

/** The agent contract over HTTP and the console WebSocket, for real. */
export function createAgentServer(options: AgentServerOptions): Server {
  const { workload, backups } = options;
  const started = Date.now();

  const status = (): Status =>
    statusSchema.parse({
      state: workload.state,
      since: workload.since.toISOString(),
      pid: workload.pid,
      uptime_s: workload.uptimeS,
      resources: { cpu_percent: 0, memory_bytes: process.memoryUsage().rss },
      ...(options.codeServer ? { codeserver: { state: options.codeServer.state, port: options.codeServer.port } } : {}),
      backup: { in_progress: backups.inProgress, last_restore: backups.lastRestore },
    });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://agent');
    const route = `${req.method} ${url.pathname}`;
    switch (route) {
      case 'GET /health':
        return send(res, 200, healthSchema.parse({ status: 'ok', agent: { version: options.version, uptime_s: Math.floor((Date.now() - started) / 1000) } }));
      case 'GET /ready':
        return workload.state === 'installing' ? send(res, 503, readySchema.parse({ ready: false, reason: 'installing' })) : send(res, 200, readySchema.parse({ ready: true }));
      case 'GET /status':
        return send(res, 200, status());
      case 'POST /start':
        if (workload.state === 'running' || workload.state === 'starting') return refuse(res, 409, 'already_running', 'the workload is already running');
        if (workload.state === 'installing' || workload.state === 'stopping' || backups.inProgress)
          return refuse(res, 409, 'busy', `cannot start while ${backups.inProgress ? 'a backup runs' : workload.state}`);
        workload.start();
        return send(res, 202, { state: 'starting' });
      case 'POST /stop':
        if (workload.state === 'stopped' || workload.state === 'crashed') return refuse(res, 409, 'already_stopped', 'the workload is not running');
        if (workload.state === 'stopping') return refuse(res, 409, 'busy', 'the workload is already stopping');
        if (workload.state === 'installing') return refuse(res, 409, 'busy', 'cannot stop while installing');
        void workload.stop();
        return send(res, 202, { state: 'stopping' });
      case 'POST /restart':
        if (workload.state === 'installing' || workload.transitioning || backups.inProgress)
          return refuse(res, 409, 'busy', `cannot restart while ${backups.inProgress ? 'a backup runs' : workload.state}`);
        // Answered at once; the stop may take a while, and the start follows it.
        void workload.stop().then(() => workload.start());
        return send(res, 202, { state: 'starting' });
      case 'POST /console/command': {
        const body = consoleCommandSchema.safeParse(await readJson(req));
        if (!body.success) return refuse(res, 400, 'bad_request', 'command must be 1..4096 characters without NUL');
        if (!workload.send(body.data.command)) return refuse(res, 409, 'not_running', 'the workload is not running');
        return send(res, 202, {});
      }
      case 'GET /console/logs': {
        const n = Math.min(1000, Math.max(1, Number(url.searchParams.get('lines') ?? 150) || 150));
        return send(res, 200, { lines: workload.console.tail(n) });
      }
      case 'GET /backups':
        return send(res, 200, { backups: await backups.list() });
      case 'POST /backups': {
        const body = createBackupSchema.safeParse(await readJson(req));
        if (!body.success) return refuse(res, 400, 'bad_request', 'name must be 1..100 characters');
        return send(res, 202, { backup: await backups.create(body.data.name) });
      }
      case 'POST /backups/restore':
        return send(res, 202, { backup: await backups.restore(url.searchParams.get('id') ?? '') });
      case 'GET /files':
        return send(res, 200, await options.files.list(url.searchParams.get('path') ?? '/'));
      case 'GET /files/content':
        return options.files.download(url.searchParams.get('path') ?? '', req, res);
      case 'PUT /files/content':
        return send(res, 201, { entry: await options.files.upload(url.searchParams.get('path') ?? '', req) });
      case 'DELETE /files':
        await options.files.remove(url.searchParams.get('path') ?? '');
        return send(res, 204);
      case 'POST /files/mkdir': {
        const body = (await readJson(req)) as { path?: unknown };
        if (typeof body.path !== 'string' || body.path === '') return refuse(res, 400, 'bad_request', 'send {"path": "..."}');
        return send(res, 201, { entry: await options.files.mkdir(body.path) });
      }
      default:
        break;
    }
    const archive = /^\/backups\/([^/]+)\/archive$/.exec(url.pathname);
    if (req.method === 'GET' && archive) return backups.sendArchive(decodeURIComponent(archive[1] as string), req, res);
    if (req.method === 'PUT' && url.pathname === '/backups/upload') {
      return send(res, 201, { backup: await backups.importArchive(url.searchParams.get('name') ?? '', req, options.maxUploadBytes) });
    }
    if (req.method === 'DELETE' && url.pathname.startsWith('/backups/')) {
      await backups.remove(decodeURIComponent(url.pathname.slice('/backups/'.length)));
      return send(res, 204);
    }
    if (options.codeServer && req.method === 'POST' && url.pathname.startsWith('/dev/codeserver/')) {
      const action = url.pathname.slice('/dev/codeserver/'.length);
      if (action === 'start' || action === 'restart') {
        await options.codeServer[action]();
        return send(res, 202, { state: 'running' });
      }
      if (action === 'stop') {
        await options.codeServer.stop();
        return send(res, 202, { state: 'stopped' });
      }
    }
    return refuse(res, 404, 'not_found', 'no such endpoint');
  };

  const server = createServer((req, res) => {
    const requestId = req.headers['x-request-id'];
    if (typeof requestId === 'string') res.setHeader('X-Request-Id', requestId);
    const auth = req.headers.authorization ?? '';
    if (!auth.startsWith('Bearer ') || !sameToken(auth.slice(7), options.token)) return refuse(res, 401, 'unauthorized', 'missing or wrong agent token');
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (err instanceof FileError) {
        // A refused upload may leave body unread: close rather than read gigabytes to keep the connection.
        if (!req.complete) res.setHeader('Connection', 'close');
        return refuse(res, err.status, err.code, err.message);
      }
      if (err instanceof BackupError) {
        if (!req.complete) res.setHeader('Connection', 'close');
        return refuse(res, err.status, err.code, err.message);
      }
      refuse(res, 500, 'internal', err instanceof Error ? err.message : 'internal error');
    });
  });

  const sockets = new WebSocketServer({ noServer: true, maxPayload: 8 * 1024 });
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => undefined);
    const url = new URL(req.url ?? '/', 'http://agent');
    if (url.pathname !== '/console') {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    sockets.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => undefined);
      const auth = req.headers.authorization ?? '';
      if (!auth.startsWith('Bearer ') || !sameToken(auth.slice(7), options.token)) {
        ws.close(4401, 'bad token');
        return;
      }
      const unsubscribe = workload.console.subscribe((line) => ws.send(JSON.stringify({ type: 'line', data: line })));
      const onState = (state: string) => ws.send(JSON.stringify({ type: 'state', state }));
      workload.on('state', onState);
      ws.on('close', () => {
        unsubscribe();
        workload.off('state', onState);
      });
      ws.on('message', (data) => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(data.toString()) as unknown;
        } catch {
          return;
        }
        const frame = consoleClientFrameSchema.safeParse(parsed);
        if (frame.success) workload.send(frame.data.command);
      });
      ws.send(JSON.stringify({ type: 'state', state: workload.state }));
    });
  });
  return server;
}
