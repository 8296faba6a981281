import test from 'ava';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { testAgentClient } from '../helpers/agent-client.ts';
import { eventually } from '../helpers/agent-core.ts';
import { startReferenceAgent, type ReferenceAgent } from '../helpers/reference-agent.ts';

let agent: ReferenceAgent;
const client = testAgentClient();

test.before(async () => {
  agent = await startReferenceAgent();
});

test.after.always(async () => {
  client.close();
  await agent?.stop();
});

const target = () => ({ baseUrl: agent.baseUrl, token: agent.token });
const state = async () => (await client.call(target(), 'status')).state;

/** Every file under a directory with its bytes' hash, for byte-for-byte comparison. */
function snapshot(dir: string, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) Object.assign(out, snapshot(path, `${prefix}${entry.name}/`));
    else out[`${prefix}${entry.name}`] = createHash('sha256').update(readFileSync(path)).digest('hex');
  }
  return out;
}

test.serial("a backup restores the data directory byte for byte, and its sha256 is the archive's", async (t) => {
  writeFileSync(join(agent.dataDir, 'config.txt'), 'difficulty=hard\n');
  writeFileSync(join(agent.dataDir, 'blob.bin'), Buffer.from(Array.from({ length: 70_000 }, (_v, i) => (i * 7) % 256)));
  const before = snapshot(agent.dataDir);
  const { backup } = await client.call(target(), 'createBackup', { body: { name: 'before-change' }, kind: 'backup' });
  const done = await eventually(async () => (await client.call(target(), 'listBackups')).backups.find((b) => b.id === backup.id && b.state === 'completed'));
  const archive = readFileSync(join(agent.backupDir, `${backup.id}.tar.gz`));
  t.is(done.sha256, createHash('sha256').update(archive).digest('hex'));
  t.is(done.size_bytes, archive.length);
  writeFileSync(join(agent.dataDir, 'config.txt'), 'difficulty=peaceful\n');
  writeFileSync(join(agent.dataDir, 'new-file.txt'), 'added after the backup');
  await client.call(target(), 'restoreBackup', { query: { id: backup.id }, kind: 'backup' });
  await eventually(async () => (await client.call(target(), 'status')).backup?.in_progress === null && (await state()) === 'stopped');
  t.deepEqual(snapshot(agent.dataDir), before);
});

test.serial('a crashed workload shows crashed, then recovers on start; the game keeps its world in the data directory', async (t) => {
  await client.call(target(), 'start');
  await eventually(async () => (await state()) === 'running');
  await client.call(target(), 'consoleCommand', { body: { command: 'say remember me' } });
  await client.call(target(), 'consoleCommand', { body: { command: 'save' } });
  // The file appears only once the game has handled "save".
  const world = join(agent.dataDir, 'world.json');
  await eventually(async () => existsSync(world) && readFileSync(world, 'utf8').includes('remember me'));
  await client.call(target(), 'consoleCommand', { body: { command: 'crash' } });
  await eventually(async () => (await state()) === 'crashed');
  const logs = await client.call(target(), 'consoleLogs', { query: { lines: 20 } });
  t.true(logs.lines.some((l) => l.includes('simulated crash')));
  await client.call(target(), 'start');
  await eventually(async () => (await state()) === 'running');
  const after = await client.call(target(), 'consoleLogs', { query: { lines: 50 } });
  t.true(after.lines.some((l) => /loading world \(\d+ ticks, 1 messages\)/.test(l)));
  await client.call(target(), 'stop');
  await eventually(async () => (await state()) === 'stopped');
});

test.serial('the console WebSocket streams output and takes commands; a bad token closes it with 4401', async (t) => {
  await client.call(target(), 'start');
  await eventually(async () => (await state()) === 'running');
  const url = `${agent.baseUrl.replace('http', 'ws')}/console`;
  const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${agent.token}` } });
  const frames: Array<{ type: string; data?: string; state?: string }> = [];
  ws.on('message', (d) => frames.push(JSON.parse(d.toString()) as { type: string }));
  await new Promise((resolve) => ws.once('open', resolve));
  ws.send(JSON.stringify({ type: 'command', command: 'say over websocket' }));
  await eventually(async () => frames.some((f) => f.type === 'line' && f.data?.includes('over websocket')));
  t.true(frames.some((f) => f.type === 'state'));
  ws.close();
  const bad = new WebSocket(url, { headers: { Authorization: 'Bearer wrong-token-wrong-token' } });
  const code = await new Promise<number>((resolve) => bad.once('close', (c) => resolve(c)));
  t.is(code, 4401);
  await client.call(target(), 'stop');
});

test('dev instances: the IDE runs on a port reported in /status, and stops again', async (t) => {
  const ideCommand = `"${process.execPath}" -e "require('http').createServer((q, s) => s.end('ide here')).listen(process.env.PORT, '127.0.0.1')"`;
  const dev = await startReferenceAgent(['--ide-command', ideCommand]);
  t.teardown(() => dev.stop());
  const devTarget = { baseUrl: dev.baseUrl, token: dev.token };
  t.is((await client.call(devTarget, 'status')).codeserver?.state, 'stopped');
  t.deepEqual(await client.call(devTarget, 'codeserverStart'), { state: 'running' });
  const status = await client.call(devTarget, 'status');
  t.is(status.codeserver?.state, 'running');
  const port = status.codeserver?.port ?? 0;
  const text = await eventually(async () =>
    fetch(`http://127.0.0.1:${port}/`).then(
      (r) => r.text(),
      () => undefined,
    ),
  );
  t.is(text, 'ide here');
  t.deepEqual(await client.call(devTarget, 'codeserverStop'), { state: 'stopped' });
  t.is((await client.call(devTarget, 'status')).codeserver?.state, 'stopped');
});
