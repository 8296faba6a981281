import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { createUser, loginAdmin, type Session } from '../../helpers/auth.ts';
import { eventually } from '../../helpers/agent-core.ts';
import type { GameServer } from '../../../plugins/game/game-server.ts';
import { call, createServer, deleteAndWait, gameTestConfig, killLocalAgents, startGameApp, waitForServer } from './game-helpers.ts';
import { blocks, downloadFrom, uploadTo } from '../../helpers/file-transfer.ts';

/** The file manager through the API, streamed to a real reference agent. */
const limit = 100 * 1024 * 1024 + 1024;
let app: TestApp;
let dataDir: string;
let owner: Session;
let stranger: Session;
let server: GameServer;

test.before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'panel-files-'));
  app = await startGameApp(gameTestConfig('local', { database: { data_dir: dataDir }, files: { max_upload_bytes: limit, stall_timeout_ms: 3_000 } }));
  const admin = await loginAdmin(app);
  owner = await createUser(app, admin);
  stranger = await createUser(app, admin);
  server = await createServer(app, owner, 'Files');
  await waitForServer(app, owner, server.id, (s) => s.state.lifecycle === 'active', 'active');
});

test.after.always(async () => {
  if (server) await deleteAndWait(app, owner, server.id).catch(() => undefined);
  await app?.close();
  killLocalAgents(dataDir);
  rmSync(dataDir, { recursive: true, force: true });
});

const agentData = () => join(dataDir, 'instances', server.id, 'data');
const url = (path: string) => new URL(`${app.url}/api/game/servers/${server.id}${path}`);

const upload = (session: Session, path: string, chunks: Iterable<Buffer>, length?: number) => uploadTo(url(`/files/content?path=${encodeURIComponent(path)}`), session.access_token, chunks, length);
const download = (session: Session, path: string) => downloadFrom(url(`/files/content?path=${encodeURIComponent(path)}`), session.access_token);

test.serial('a file with all 256 byte values and a 100 MiB file come back identical (sha256)', async (t) => {
  const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const small = await upload(owner, '/bytes.bin', [every], every.length);
  t.is(small.status, 201);
  t.like(small.body, { entry: { name: 'bytes.bin', type: 'file', size_bytes: 256 } });
  const back = await download(owner, '/bytes.bin');
  t.is(back.sha256, createHash('sha256').update(every).digest('hex'));
  t.regex(String(back.headers['content-disposition']), /attachment; filename\*=UTF-8''bytes\.bin/);

  const hash = createHash('sha256');
  const big = await upload(owner, '/world/big.bin', blocks(100, 1024 * 1024, randomBytes(64), hash));
  t.is(big.status, 201);
  const expected = hash.digest('hex');
  const got = await download(owner, '/world/big.bin');
  t.is(got.size, 100 * 1024 * 1024);
  t.is(got.sha256, expected);
});

test.serial('an upload over the limit answers 413 as soon as it crosses it, and leaves no partial file on the agent', async (t) => {
  const declared = await upload(owner, '/too-big.bin', [Buffer.alloc(16)], limit + 1);
  t.is(declared.status, 413);
  t.is(declared.body.code, 'PAYLOAD_TOO_LARGE');
  const streamed = await upload(owner, '/too-big.bin', blocks(101, 1024 * 1024, Buffer.from('x')));
  t.is(streamed.status, 413, JSON.stringify(streamed.body));
  await eventually(async () => !readdirSync(agentData()).some((n) => n.includes('too-big')), 10_000, 'the partial file to be gone');
  t.false(existsSync(join(agentData(), 'too-big.bin')));
});

test.serial('paths: traversal is refused before the agent, "/" is the data directory, a symlink out of it is refused by the agent', async (t) => {
  const traversal = await call(app, owner, 'GET', `/api/game/servers/${server.id}/files/content?path=${encodeURIComponent('../../etc/passwd')}`);
  t.is(traversal.status, 400);
  t.is(traversal.body.code, 'VALIDATION_FAILED');
  const hostPath = await call(app, owner, 'GET', `/api/game/servers/${server.id}/files/content?path=${encodeURIComponent('/etc/passwd')}`);
  t.is(hostPath.status, 404, '/etc/passwd is <data>/etc/passwd, which does not exist');
  symlinkSync('/etc', join(agentData(), 'escape'));
  const viaLink = await call(app, owner, 'GET', `/api/game/servers/${server.id}/files/content?path=${encodeURIComponent('/escape/passwd')}`);
  t.is(viaLink.status, 400);
  t.like(viaLink.body, { code: 'AGENT_ERROR', details: { agent_body: { code: 'path_outside_root' } } });
  const listing = await call(app, owner, 'GET', `/api/game/servers/${server.id}/files?path=/`);
  t.false(
    (listing.body.entries as Array<{ name: string }>).some((e) => e.name === 'escape'),
    'a link out is not listed',
  );
  const through = await upload(owner, '/escape/planted', [Buffer.from('x')], 1);
  t.is(through.status, 400);
  t.false(existsSync('/etc/planted'));
});

test.serial('mkdir, list and delete; deletes and uploads are audited', async (t) => {
  const made = await call(app, owner, 'POST', `/api/game/servers/${server.id}/files/mkdir`, { path: '/mods/new' });
  t.is(made.status, 201);
  t.like(made.body, { entry: { name: 'new', type: 'dir' } });
  t.is((await call(app, owner, 'POST', `/api/game/servers/${server.id}/files/mkdir`, { path: '/mods/new' })).status, 409);
  const listed = await call(app, owner, 'GET', `/api/game/servers/${server.id}/files?path=/mods`);
  t.deepEqual(
    (listed.body.entries as Array<{ name: string }>).map((e) => e.name),
    ['new'],
  );
  t.is((await call(app, owner, 'DELETE', `/api/game/servers/${server.id}/files?path=${encodeURIComponent('/mods')}`)).status, 204);
  t.is((await call(app, owner, 'GET', `/api/game/servers/${server.id}/files?path=/mods`)).status, 404);
  t.is((await call(app, owner, 'DELETE', `/api/game/servers/${server.id}/files?path=/`)).body.code, 'PATH_IS_ROOT');
  const audit = await app.server.database.knex('audit_log').whereIn('action', ['files.upload', 'files.delete']).where({ target_user_id: owner.user.id }).select('action');
  t.true(audit.some((a: { action: string }) => a.action === 'files.upload'));
  t.true(audit.some((a: { action: string }) => a.action === 'files.delete'));
  mkdirSync(join(agentData(), 'kept'), { recursive: true });
});

test('another user gets 404 on every file route', async (t) => {
  for (const [method, path, body] of [
    ['GET', '/files?path=/'],
    ['GET', '/files/content?path=/bytes.bin'],
    ['DELETE', '/files?path=/bytes.bin'],
    ['POST', '/files/mkdir', { path: '/x' }],
  ] as Array<[string, string, unknown?]>) {
    const res = await call(app, stranger, method, `/api/game/servers/${server.id}${path}`, body);
    t.is(res.status, 404, `${method} ${path}`);
  }
  t.is((await upload(stranger, '/x.bin', [Buffer.from('x')], 1)).status, 404);
  t.false(existsSync(join(agentData(), 'x.bin')));
});

test.serial('a client that stops reading a download, or uploads slowly, does not raise memory beyond a small constant', async (t) => {
  // The API runs in this process: its memory is ours to measure.
  global.gc?.();
  const before = process.memoryUsage();
  const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
    request(url(`/files/content?path=${encodeURIComponent('/world/big.bin')}`), { headers: { Authorization: `Bearer ${owner.access_token}` } }, resolve)
      .on('error', reject)
      .end();
  });
  t.is(res.statusCode, 200);
  res.pause(); // a reader that stops: backpressure must hold the agent, not fill the API
  await new Promise((r) => setTimeout(r, 1_500));
  const stalled = process.memoryUsage();
  res.destroy();
  const grown = (stalled.rss - before.rss) / 1024 / 1024;
  t.log(`RSS while a 100 MiB download waits on its reader: +${grown.toFixed(1)} MiB (external +${((stalled.external - before.external) / 1024 / 1024).toFixed(1)} MiB)`);
  t.true(grown < 48, `RSS grew by ${grown.toFixed(1)} MiB`);

  // A slow upload: 16 blocks of 256 KiB, 50 ms apart, arrives whole.
  const hash = createHash('sha256');
  const slow = await new Promise<{ status: number }>((resolve, reject) => {
    const req = request(url(`/files/content?path=${encodeURIComponent('/slow.bin')}`), { method: 'PUT', headers: { Authorization: `Bearer ${owner.access_token}` } }, (r) => {
      r.resume();
      r.on('end', () => resolve({ status: r.statusCode ?? 0 }));
    });
    req.on('error', reject);
    let i = 0;
    const tick = setInterval(() => {
      const block = Buffer.alloc(256 * 1024, i);
      hash.update(block);
      req.write(block);
      i += 1;
      if (i === 16) {
        clearInterval(tick);
        req.end();
      }
    }, 50);
  });
  t.is(slow.status, 201);
  t.is((await download(owner, '/slow.bin')).sha256, hash.digest('hex'));
});

test.serial('signed URLs: a download link works without the bearer header a few times, an upload link once; neither fits another path, server, direction or time', async (t) => {
  const made = await call(app, owner, 'POST', `/api/game/servers/${server.id}/files/download-url`, { path: '/bytes.bin' });
  t.is(made.status, 201);
  const link = made.body.url as string;
  t.regex(link, /^http:\/\/localhost:8080\/api\/files\/signed\?token=/);
  const local = (u: string) => `${app.url}${new URL(u).pathname}${new URL(u).search}`;
  const first = await fetch(local(link));
  t.is(first.status, 200);
  t.is((await first.arrayBuffer()).byteLength, 256);
  // Resumed: a range of it, again with the same link.
  const resumed = await fetch(local(link), { headers: { Range: 'bytes=0-9' } });
  t.is(resumed.status, 206);
  t.is((await resumed.arrayBuffer()).byteLength, 10);
  for (let i = 0; i < 3; i += 1) await (await fetch(local(link))).arrayBuffer();
  const exhausted = await fetch(local(link));
  t.is(exhausted.status, 401, 'a few uses, not unlimited');
  t.is(((await exhausted.json()) as { code: string }).code, 'SIGNED_URL_INVALID');

  // The same token for the other direction, or tampered with, is worthless.
  const fresh = (await call(app, owner, 'POST', `/api/game/servers/${server.id}/files/download-url`, { path: '/bytes.bin' })).body.url as string;
  t.is((await fetch(local(fresh), { method: 'PUT', body: 'x' })).status, 401, 'a download link does not upload');
  const token = new URL(fresh).searchParams.get('token') as string;
  const [body, mac] = token.split('.') as [string, string];
  const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString('utf8')), p: '/world/big.bin' })).toString('base64url');
  t.is((await fetch(`${app.url}/api/files/signed?token=${forged}.${mac}`)).status, 401, 'another path needs another signature');

  const up = (await call(app, owner, 'POST', `/api/game/servers/${server.id}/files/upload-url`, { path: '/via-link.txt' })).body.url as string;
  t.is((await fetch(local(up), { method: 'PUT', body: 'hello from a browser' })).status, 201);
  t.is((await fetch(local(up), { method: 'PUT', body: 'again' })).status, 401, 'an upload link is spent once');
  t.is((await download(owner, '/via-link.txt')).size, 'hello from a browser'.length);

  // Expired (five minutes later), and another user's server.
  const late = (await call(app, owner, 'POST', `/api/game/servers/${server.id}/files/download-url`, { path: '/bytes.bin' })).body.url as string;
  const realNow = Date.now;
  Date.now = () => realNow() + 301_000;
  try {
    t.is((await fetch(local(late))).status, 401);
  } finally {
    Date.now = realNow;
  }
  t.is((await call(app, stranger, 'POST', `/api/game/servers/${server.id}/files/download-url`, { path: '/bytes.bin' })).status, 404);
  // Tokens never reach the log.
  t.false(JSON.stringify(app.logs).includes(token));
});

test.serial('backup archives: a download matches the recorded sha256; an uploaded archive becomes a backup that restores; garbage is refused', async (t) => {
  const made = await call(app, owner, 'POST', `/api/game/servers/${server.id}/backups`, { name: 'for-download' });
  t.is(made.status, 202);
  const id = (made.body.backup as { id: string }).id;
  const done = await eventually(
    async () => {
      const list = (await call(app, owner, 'GET', `/api/game/servers/${server.id}/backups`)).body.backups as Array<{ id: string; state: string; sha256: string }>;
      const b = list.find((x) => x.id === id);
      return b?.state === 'completed' ? b : undefined;
    },
    30_000,
    'the backup to complete',
  );
  const archive = await fetch(`${app.url}/api/game/servers/${server.id}/backups/${id}/download`, { headers: { Authorization: `Bearer ${owner.access_token}` } });
  t.is(archive.status, 200);
  const bytes = Buffer.from(await archive.arrayBuffer());
  t.is(createHash('sha256').update(bytes).digest('hex'), done.sha256);
  t.is(archive.headers.get('x-checksum-sha256'), done.sha256);
  t.is((await fetch(`${app.url}/api/game/servers/${server.id}/backups/${id}/download`, { headers: { Authorization: `Bearer ${stranger.access_token}` } })).status, 404);

  // The signed URL gives the same bytes without the bearer header.
  const link = (await call(app, owner, 'POST', `/api/game/servers/${server.id}/backups/${id}/download-url`)).body.url as string;
  const viaLink = await fetch(`${app.url}${new URL(link).pathname}${new URL(link).search}`);
  t.is(
    createHash('sha256')
      .update(Buffer.from(await viaLink.arrayBuffer()))
      .digest('hex'),
    done.sha256,
  );

  // Change the data, upload the archive as a new backup, restore it: the data is back.
  t.is((await upload(owner, '/bytes.bin', [Buffer.from('changed')], 7)).status, 201);
  const imported = await new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
    const req = request(
      new URL(`${app.url}/api/game/servers/${server.id}/backups/upload?name=imported`),
      { method: 'PUT', headers: { Authorization: `Bearer ${owner.access_token}`, 'Content-Length': String(bytes.length) } },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(parts).toString('utf8')) as Record<string, unknown> }));
      },
    );
    req.on('error', reject);
    req.end(bytes);
  });
  t.is(imported.status, 201);
  const importedBackup = imported.body.backup as { id: string; state: string; sha256: string };
  t.like(importedBackup, { state: 'completed', sha256: done.sha256 });
  t.is((await call(app, owner, 'POST', `/api/game/servers/${server.id}/backups/restore?id=${importedBackup.id}`)).status, 202);
  await waitForServer(app, owner, server.id, (s) => s.state.lifecycle === 'active', 'active after the restore');
  t.is((await download(owner, '/bytes.bin')).size, 256, 'the 256-byte file is back');

  const garbage = await new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
    const req = request(new URL(`${app.url}/api/game/servers/${server.id}/backups/upload?name=junk`), { method: 'PUT', headers: { Authorization: `Bearer ${owner.access_token}` } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(parts).toString('utf8')) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(Buffer.from('this is not a tar.gz'));
  });
  t.is(garbage.status, 400);
  t.like(garbage.body, { code: 'AGENT_ERROR', details: { agent_body: { code: 'not_an_archive' } } });
  const names = ((await call(app, owner, 'GET', `/api/game/servers/${server.id}/backups`)).body.backups as Array<{ name: string }>).map((b) => b.name);
  t.false(names.includes('junk'));
});

test.serial('a transfer that stalls is cut after the stall timeout; a client that goes away mid-upload leaves nothing on the agent', async (t) => {
  // Stall: the agent freezes mid-download; the API cuts the exchange instead of waiting forever.
  const pid = (JSON.parse(readFileSync(join(dataDir, 'instances', server.id, 'agent.json'), 'utf8')) as { pid: number }).pid;
  const ended = new Promise<number>((resolve, reject) => {
    request(url(`/files/content?path=${encodeURIComponent('/world/big.bin')}`), { headers: { Authorization: `Bearer ${owner.access_token}` } }, (res) => {
      res.once('data', () => {
        process.kill(pid, 'SIGSTOP');
        res.resume();
      });
      const started = Date.now();
      res.on('close', () => resolve(Date.now() - started));
    })
      .on('error', reject)
      .end();
  });
  try {
    const took = await ended;
    t.true(took < 8_000, `cut after ${took} ms (stall timeout 3 s)`);
  } finally {
    process.kill(pid, 'SIGCONT');
  }

  // A client that goes away half-way through an upload: the agent's request is cut and its temporary file removed.
  await new Promise<void>((resolve) => {
    const req = request(url(`/files/content?path=${encodeURIComponent('/half.bin')}`), {
      method: 'PUT',
      headers: { Authorization: `Bearer ${owner.access_token}`, 'Content-Length': String(8 * 1024 * 1024) },
    });
    req.on('error', () => resolve());
    req.write(Buffer.alloc(1024 * 1024, 1));
    setTimeout(() => {
      req.destroy();
      resolve();
    }, 300);
  });
  await eventually(async () => !readdirSync(agentData()).some((n) => n.includes('half.bin')), 10_000, 'no partial upload left');
  t.false(existsSync(join(agentData(), 'half.bin')));
});
