import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEmptyDatabase, testEngine, type TestDatabase } from '../helpers/test-database.ts';
import { spawnServer, type ServerProcess } from '../helpers/spawn-server.ts';
import { freeLoopbackPort } from '../../scripts/lib/desktop-processes.ts';
import { killLocalAgents } from '../../src/core/instances/local-provisioner.ts';

/**
 * README's "Portal API walkthrough", run as written: its ```bash blocks, in order, in one bash
 * (`set -euo pipefail`, so any failed curl or wait stops it), against `src/main.ts` started as
 * `npm start` does with default settings (PUBLIC_URL on the port it listens on, so IDE links
 * carry it; BASE from the environment as the walkthrough allows). Then what each step claims
 * is checked through the API, and the IDE link is followed. The ```text banner must be what
 * the server prints. If the README and the API part ways, this fails.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));

function walkthrough(): { bash: string[]; banner: string } {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Portal API walkthrough\n');
  if (start === -1) throw new Error('README has no "Portal API walkthrough" section');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  const blocks = [...section.matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1] as string, body: m[2] as string }));
  return { bash: blocks.filter((b) => b.lang === 'bash').map((b) => b.body), banner: blocks.find((b) => b.lang === 'text')?.body ?? '' };
}

function runBash(script: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn('bash', ['-c', script], { cwd: root, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
  return new Promise((resolve) => child.once('close', (code) => (clearTimeout(timer), resolve({ code, stdout, stderr }))));
}

/** A request to the server with the Host of a link (Node, unlike curl and Chromium, does not resolve `*.localhost`). */
function get(port: number, host: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { Host: host, ...headers } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test(`the README's portal API walkthrough runs as written against npm start's entry point (${testEngine})`, async (t) => {
  t.timeout(240_000);
  const started = Date.now();
  const { bash, banner } = walkthrough();
  const text = bash.join('\n');
  for (const route of ['/api/auth/login', '/api/game/servers', '/start', '/console/command', '/backups', '/backups/restore', '/api/dev', '/codeserver/start', '/ide-token'])
    t.true(text.includes(route), `the walkthrough uses ${route}`);

  for (const tool of ['curl', 'jq']) {
    const found = await runBash(`command -v ${tool}`, {});
    if (found.code !== 0) throw new Error(`${tool} is not installed, and the walkthrough needs it: run \`bash scripts/test-prerequisites.sh\``);
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'panel-walk-'));
  let db: TestDatabase | null = null;
  let server: ServerProcess | null = null;
  t.teardown(async () => {
    server?.child.kill('SIGTERM');
    await server?.exited;
    killLocalAgents(dataDir);
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  if (testEngine === 'postgres') db = await createEmptyDatabase();
  const port = await freeLoopbackPort();
  const base = `http://localhost:${port}`;
  server = await spawnServer('src/main.ts', { DATA_DIR: dataDir, PORT: String(port), PUBLIC_URL: base, ...(db?.url ? { DATABASE_URL: db.url } : {}) });

  // The first admin's banner, as the README shows it (its password and port aside).
  const mask = (s: string) =>
    s
      .replace(/password: \S+/, 'password: <generated>')
      .replace(/localhost:\d+/g, 'localhost:<port>')
      .trim();
  t.is(mask(server.stderr()), mask(banner));

  // Each block, then a marker: the output says how far it got.
  const script = ['set -euo pipefail', ...bash.map((b, i) => `${b}\nprintf '\\n@@ block ${i + 1} ok\\n'`), `printf '@@vars %s %s %s %s %s\\n' "$TOKEN" "$SERVER" "$BACKUP" "$DEV" "$IDE_URL"`].join(
    '\n',
  );
  const run = await runBash(script, { BASE: base });
  const report = `exit ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
  t.is(run.code, 0, report);
  t.is(run.stderr, '', report);
  for (let i = 1; i <= bash.length; i += 1) t.true(run.stdout.includes(`@@ block ${i} ok`), `block ${i} ran: ${report}`);
  const [token = '', serverId = '', backupId = '', devId = '', ideUrl = ''] = /@@vars (.*)/.exec(run.stdout)?.[1]?.split(' ') ?? [];
  t.log(`walkthrough ran in ${Date.now() - started} ms, server start included`);

  // Each call names the fields it reads from the answer; a missing one fails its assertion.
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${base}${path}`, { headers: { Authorization: `Bearer ${token}` } });
    t.is(res.status, 200, path);
    return (await res.json()) as T;
  };
  const me = await api<{ user: { username: string } }>('/api/auth/me');
  t.is(me.user.username, 'alice', 'signed in as the user it registered');
  // Restored: active again, no reason given, the agent's last restore completed, the workload stopped.
  const { server: game } = await api<{
    server: { lifecycle_reason: string | null; state: { lifecycle: string; status: string; details: { backup: { last_restore: { state: string } } } } };
  }>(`/api/game/servers/${serverId}`);
  t.is(game.state.lifecycle, 'active');
  t.is(game.lifecycle_reason, null);
  t.is(game.state.details.backup.last_restore.state, 'completed');
  t.is(game.state.status, 'stopped');
  t.true((await api<{ lines: string[] }>(`/api/game/servers/${serverId}/console/logs`)).lines.includes('[chat] hello'), 'the console command reached the game server');
  const { backups } = await api<{ backups: { id: string; state: string }[] }>(`/api/game/servers/${serverId}/backups`);
  t.deepEqual(
    backups.map((b) => [b.id, b.state]),
    [[backupId, 'completed']],
  );
  t.true(run.stdout.includes(`${serverId} Friday survival active stopped`), 'the list shows the server');
  t.regex(run.stdout, new RegExp(`${backupId} before-update completed \\d+ bytes`), 'the list shows the backup');
  const { container } = await api<{ container: { vmid: number; codeserver: { state: string } } }>(`/api/dev/${devId}`);
  t.is(container.codeserver.state, 'running');

  // The IDE link: PUBLIC_URL's scheme and port, and it opens (303 with the cookie, then the IDE).
  const link = new URL(ideUrl);
  t.is(link.origin, `http://dev-${container.vmid}.localhost:${port}`);
  const spent = await get(port, link.host, `${link.pathname}${link.search}`);
  t.is(spent.status, 303);
  t.is(spent.headers.location, '/');
  const cookie = String(spent.headers['set-cookie']).split(';')[0] as string;
  t.true(cookie.startsWith(`ide_${container.vmid}=`), cookie);
  const page = await get(port, link.host, '/', { Cookie: cookie, Accept: 'text/html' });
  t.is(page.status, 200);
  t.regex(page.body, /IDE stand-in/);
  t.log(`done in ${Date.now() - started} ms`);
});
