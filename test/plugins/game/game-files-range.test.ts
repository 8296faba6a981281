import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { createUser, loginAdmin, type Session } from '../../helpers/auth.ts';
import { eventually } from '../../helpers/agent-core.ts';
import type { GameServer } from '../../../plugins/game/game-server.ts';
import { call, createServer, deleteAndWait, gameTestConfig, killLocalAgents, listBackups, startGameApp, waitForServer } from './game-helpers.ts';
import { uploadTo } from '../../helpers/file-transfer.ts';

/** Resumable downloads through the API: Range and If-Range reach the real reference agent, 206/416 come back. */
let app: TestApp;
let dataDir: string;
let owner: Session;
let stranger: Session;
let server: GameServer;
const content = randomBytes(200_000);

test.before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'panel-ranges-'));
  app = await startGameApp(gameTestConfig('local', { database: { data_dir: dataDir } }));
  const admin = await loginAdmin(app);
  owner = await createUser(app, admin);
  stranger = await createUser(app, admin);
  server = await createServer(app, owner, 'Ranges');
  await waitForServer(app, owner, server.id, (s) => s.state.lifecycle === 'active', 'active');
  const put = await uploadTo(new URL(`${app.url}/api/game/servers/${server.id}/files/content?path=/world.bin`), owner.access_token, [content], content.length);
  if (put.status !== 201) throw new Error(`upload answered ${put.status}`);
});

test.after.always(async () => {
  if (server) await deleteAndWait(app, owner, server.id).catch(() => undefined);
  await app?.close();
  killLocalAgents(dataDir);
  rmSync(dataDir, { recursive: true, force: true });
});

const get = async (session: Session, path: string, headers: Record<string, string> = {}) => {
  const res = await fetch(`${app.url}/api/game/servers/${server.id}${path}`, { headers: { Authorization: `Bearer ${session.access_token}`, ...headers } });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
};
const file = (headers: Record<string, string> = {}, session = owner) => get(session, '/files/content?path=/world.bin', headers);
const size = content.length;

test('a whole download says Accept-Ranges: bytes; bytes=4-7, bytes=4- and bytes=-3 answer 206 with exactly those bytes', async (t) => {
  const whole = await file();
  t.is(whole.status, 200);
  t.is(whole.headers.get('accept-ranges'), 'bytes');
  t.true(whole.body.equals(content));
  for (const [range, start, end] of [
    ['bytes=4-7', 4, 7],
    ['bytes=4-', 4, size - 1],
    ['bytes=-3', size - 3, size - 1],
  ] as const) {
    const res = await file({ Range: range });
    t.is(res.status, 206, range);
    t.is(res.headers.get('content-range'), `bytes ${start}-${end}/${size}`, range);
    t.is(res.headers.get('content-length'), String(end - start + 1), range);
    t.is(res.headers.get('accept-ranges'), 'bytes', range);
    t.regex(res.headers.get('content-disposition') ?? '', /attachment/);
    t.true(res.body.equals(content.subarray(start, end + 1)), range);
  }
});

test('a range past the end is 416 in the error envelope, with Content-Range: bytes */size', async (t) => {
  const res = await file({ Range: `bytes=${size}-` });
  t.is(res.status, 416);
  t.is(res.headers.get('content-range'), `bytes */${size}`);
  const body = JSON.parse(res.body.toString('utf8')) as { code: string; details: { size_bytes: number }; request_id: string };
  t.is(body.code, 'RANGE_NOT_SATISFIABLE');
  t.is(body.details.size_bytes, size);
  t.truthy(body.request_id);
});

test('a resumed download: the first part, then the rest with If-Range, is the file byte for byte', async (t) => {
  const first = await file({ Range: 'bytes=0-65535' });
  t.is(first.status, 206);
  const etag = first.headers.get('etag') as string;
  t.truthy(etag);
  const rest = await file({ Range: `bytes=${first.body.length}-`, 'If-Range': etag });
  t.is(rest.status, 206);
  t.true(Buffer.concat([first.body, rest.body]).equals(content));
  const changed = await file({ Range: 'bytes=10-', 'If-Range': '"not-this-file"' });
  t.is(changed.status, 200, 'If-Range that no longer matches sends the whole file');
  t.true(changed.body.equals(content));
  t.is((await file({ Range: 'bytes=0-1,5-6' })).status, 200, 'several ranges are ignored');
});

test("ownership still comes first: another user's Range request is a 404 envelope", async (t) => {
  const res = await file({ Range: 'bytes=4-7' }, stranger);
  t.is(res.status, 404);
  t.is(JSON.parse(res.body.toString('utf8')).code, 'NOT_FOUND');
});

test('a signed download link and a backup archive answer ranges too', async (t) => {
  const made = await call(app, owner, 'POST', `/api/game/servers/${server.id}/files/download-url`, { path: '/world.bin' });
  const link = new URL(made.body.url as string);
  const signed = await fetch(`${app.url}${link.pathname}${link.search}`, { headers: { Range: 'bytes=4-7' } });
  t.is(signed.status, 206);
  t.true(Buffer.from(await signed.arrayBuffer()).equals(content.subarray(4, 8)));

  t.is((await call(app, owner, 'POST', `/api/game/servers/${server.id}/backups`, { name: 'ranged' })).status, 202);
  const backup = await eventually(async () => (await listBackups(app, owner, server.id)).find((b) => b.state === 'completed'), 30_000, 'the backup');
  const archive = (headers: Record<string, string> = {}) => get(owner, `/backups/${backup.id}/download`, headers);
  const whole = await archive();
  t.is(whole.status, 200);
  const head = await archive({ Range: 'bytes=0-99' });
  const tail = await archive({ Range: 'bytes=100-' });
  t.is(head.status, 206);
  t.is(tail.headers.get('content-range'), `bytes 100-${whole.body.length - 1}/${whole.body.length}`);
  t.true(Buffer.concat([head.body, tail.body]).equals(whole.body));
  t.is((await archive({ Range: `bytes=${whole.body.length + 5}-` })).status, 416);
});
