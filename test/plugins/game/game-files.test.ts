import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import type { TestApp } from '../../helpers/start-test-app.ts';
import type { Session } from '../../helpers/auth.ts';
import { eventually } from '../../helpers/agent-core.ts';
import type { GameServer } from '../../../plugins/game/game-server.ts';
import { call } from './game-helpers.ts';
import { blocks } from '../../helpers/file-transfer.ts';
import { fileRoutes, startFilesServer, stopFilesServer, type FilesServer } from './files-helpers.ts';

/** The file manager through the API, streamed to a real reference agent (signed links and backup archives: game-files-signed.test.ts). */
const limit = 100 * 1024 * 1024 + 1024;
let files: FilesServer;
let app: TestApp;
let dataDir: string;
let owner: Session;
let stranger: Session;
let server: GameServer;

const { agentData, url, upload, download } = fileRoutes(() => files);

test.before(async () => {
  files = await startFilesServer('panel-files-', { max_upload_bytes: limit, stall_timeout_ms: 3_000 });
  ({ app, dataDir, owner, stranger, server } = files);
});

test.after.always(() => stopFilesServer(files));

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
