import test from 'ava';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import type { TestApp } from '../../helpers/start-test-app.ts';
import type { Session } from '../../helpers/auth.ts';
import { eventually } from '../../helpers/agent-core.ts';
import type { GameServer } from '../../../plugins/game/game-server.ts';
import { call, waitForServer } from './game-helpers.ts';
import { fileRoutes, startFilesServer, stopFilesServer, type FilesServer } from './files-helpers.ts';

/** Links that carry their own authorization (signed URLs) and backup archives as files, through the API to a real reference agent. */
let files: FilesServer;
let app: TestApp;
let owner: Session;
let stranger: Session;
let server: GameServer;

const { upload, download } = fileRoutes(() => files);

test.before(async () => {
  files = await startFilesServer('panel-signed-');
  ({ app, owner, stranger, server } = files);
  // Both tests read this 256-byte file (every byte value); the backup test also restores it.
  const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const put = await upload(owner, '/bytes.bin', [every], every.length);
  if (put.status !== 201) throw new Error(`upload answered ${put.status}`);
});

test.after.always(() => stopFilesServer(files));

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
