import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Backup, FakeAgent } from './fake-agent-model.ts';

/** A JSON answer, echoing the caller's X-Request-Id when it sent one; fault modes use it too. */
export function send(res: ServerResponse, status: number, body: unknown, requestId: string | undefined): void {
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

/**
 * How a fake agent in `normal` mode answers: the agent contract over its small in-memory
 * workload (state, console lines, backups, code-server). `startedAt` is when the fake agents'
 * server started, for /health's uptime.
 */
export async function answerNormally(agent: FakeAgent, req: IncomingMessage, res: ServerResponse, path: string, url: URL, startedAt: number): Promise<void> {
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
}
