import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { testAgentClient } from '../helpers/agent-client.ts';
import { eventually } from '../helpers/agent-core.ts';
import { startReferenceAgent, type ReferenceAgent } from '../helpers/reference-agent.ts';

/** Range requests on the reference agent's downloads (RFC 9110 §14, one range), straight over HTTP. */
let agent: ReferenceAgent;
const client = testAgentClient();
const bytes = Buffer.from(Array.from({ length: 256 }, (_v, i) => i));

test.before(async () => {
  agent = await startReferenceAgent();
  writeFileSync(join(agent.dataDir, 'bytes.bin'), bytes);
});

test.after.always(async () => {
  client.close();
  await agent?.stop();
});

const get = async (path: string, headers: Record<string, string> = {}) => {
  const res = await fetch(`${agent.baseUrl}${path}`, { headers: { Authorization: `Bearer ${agent.token}`, ...headers } });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
};
const file = (headers: Record<string, string> = {}) => get('/files/content?path=/bytes.bin', headers);

test('a whole download says Accept-Ranges: bytes and carries validators', async (t) => {
  const res = await file();
  t.is(res.status, 200);
  t.is(res.headers.get('accept-ranges'), 'bytes');
  t.is(res.headers.get('content-length'), '256');
  t.regex(res.headers.get('etag') ?? '', /^"[^"]+"$/);
  t.truthy(res.headers.get('last-modified'));
  t.deepEqual(res.body, bytes);
});

test('bytes=4-7, bytes=4-, bytes=-3 and an end past the file answer 206 with exactly those bytes', async (t) => {
  for (const [range, start, end] of [
    ['bytes=4-7', 4, 7],
    ['bytes=4-', 4, 255],
    ['bytes=-3', 253, 255],
    ['bytes=250-999', 250, 255],
    ['bytes=-1000', 0, 255],
  ] as const) {
    const res = await file({ Range: range });
    t.is(res.status, 206, range);
    t.is(res.headers.get('content-range'), `bytes ${start}-${end}/256`, range);
    t.is(res.headers.get('content-length'), String(end - start + 1), range);
    t.deepEqual(res.body, bytes.subarray(start, end + 1), range);
  }
});

test('a range starting at or past the end is 416 with Content-Range: bytes */size', async (t) => {
  for (const range of ['bytes=256-', 'bytes=1000-2000', 'bytes=-0']) {
    const res = await file({ Range: range });
    t.is(res.status, 416, range);
    t.is(res.headers.get('content-range'), 'bytes */256', range);
    t.is(JSON.parse(res.body.toString('utf8')).code, 'range_not_satisfiable');
  }
});

test('several ranges, another unit or bad syntax are ignored: 200 with the whole file', async (t) => {
  for (const range of ['bytes=0-1,4-5', 'items=0-3', 'bytes=7-4', 'bytes=abc', 'bytes=-']) {
    const res = await file({ Range: range });
    t.is(res.status, 200, range);
    t.deepEqual(res.body, bytes, range);
  }
});

test('If-Range: the range holds while the ETag or Last-Modified matches, the whole file is sent once it changed', async (t) => {
  writeFileSync(join(agent.dataDir, 'changing.bin'), bytes);
  const first = await get('/files/content?path=/changing.bin');
  const etag = first.headers.get('etag') as string;
  const lastModified = first.headers.get('last-modified') as string;
  t.is((await get('/files/content?path=/changing.bin', { Range: 'bytes=10-19', 'If-Range': etag })).status, 206);
  t.is((await get('/files/content?path=/changing.bin', { Range: 'bytes=10-19', 'If-Range': lastModified })).status, 206);
  t.is((await get('/files/content?path=/changing.bin', { Range: 'bytes=10-19', 'If-Range': `W/${etag}` })).status, 200, 'a weak tag never matches');
  writeFileSync(join(agent.dataDir, 'changing.bin'), Buffer.alloc(300, 1));
  const stale = await get('/files/content?path=/changing.bin', { Range: 'bytes=10-19', 'If-Range': etag });
  t.is(stale.status, 200);
  t.is(stale.body.length, 300);
});

test('a backup archive is served in ranges too, its sha256 as the ETag', async (t) => {
  const { backup } = await client.call({ baseUrl: agent.baseUrl, token: agent.token }, 'createBackup', { body: { name: 'ranged' }, kind: 'backup' });
  const done = await eventually(async () => (await client.call({ baseUrl: agent.baseUrl, token: agent.token }, 'listBackups')).backups.find((b) => b.id === backup.id && b.state === 'completed'));
  const whole = await get(`/backups/${backup.id}/archive`);
  t.is(whole.status, 200);
  t.is(whole.headers.get('accept-ranges'), 'bytes');
  t.is(whole.headers.get('etag'), `"${done.sha256}"`);
  const head = await get(`/backups/${backup.id}/archive`, { Range: 'bytes=0-9', 'If-Range': `"${done.sha256}"` });
  t.is(head.status, 206);
  const rest = await get(`/backups/${backup.id}/archive`, { Range: 'bytes=10-' });
  t.is(rest.status, 206);
  t.deepEqual(Buffer.concat([head.body, rest.body]), whole.body);
  const beyond = await get(`/backups/${backup.id}/archive`, { Range: `bytes=${whole.body.length}-` });
  t.is(beyond.status, 416);
  t.is(beyond.headers.get('content-range'), `bytes */${whole.body.length}`);
});
