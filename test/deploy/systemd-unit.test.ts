import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPostgresDatabase } from '../helpers/test-database.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const unitText = readFileSync(join(root, 'deploy/hosting-panel.service'), 'utf8');
const defaults = JSON.parse(readFileSync(join(root, 'config/default.json'), 'utf8')) as { server: { shutdown_grace_ms: number } };

/** systemd-analyze verify on a copy whose checkout paths point at this one (it checks that ExecStart and paths exist). */
function verify(text: string): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'panel-unit-'));
  try {
    const path = join(dir, 'hosting-panel.service');
    writeFileSync(path, text.replaceAll('/opt/hosting-panel', root.replace(/\/$/, '')));
    const run = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8' });
    if (run.error) throw new Error(`systemd-analyze is missing (bash scripts/test-prerequisites.sh installs it): ${run.error.message}`);
    return { status: run.status, output: `${run.stdout}${run.stderr}`.trim() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The value of `Key=` in the unit (the last one wins, as in systemd). */
function setting(key: string): string | undefined {
  return [...unitText.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]?.trim()).pop();
}

// systemd-analyze exits 0 on an unknown key or a value it cannot parse (it only warns), so any
// output at all fails the test.
test('systemd-analyze verify passes deploy/hosting-panel.service without a warning', (t) => {
  t.deepEqual(verify(unitText), { status: 0, output: '' });
});

test('the check catches a broken unit: a misspelt key, a bad signal, a missing binary', (t) => {
  t.regex(verify(unitText.replace(/^Restart=/m, 'Restrat=')).output, /Unknown key 'Restrat'/);
  t.regex(verify(unitText.replace(/^KillSignal=.*$/m, 'KillSignal=SIGFOO')).output, /signal/i);
  const missing = verify(unitText.replace(/^ExecStart=.*$/m, 'ExecStart=/usr/bin/no-such-npm start'));
  t.not(missing.status, 0);
  t.regex(missing.output, /no-such-npm is not executable/);
});

test('the unit stops the way the server drains: one SIGTERM to the whole unit, time for the grace and the agents', (t) => {
  t.is(setting('ExecStart'), '/usr/bin/npm start');
  t.is(setting('KillSignal'), 'SIGTERM');
  t.is(setting('KillMode'), 'control-group');
  t.is(setting('Restart'), 'on-failure');
  const stopSeconds = Number(/^(\d+)s$/.exec(setting('TimeoutStopSec') ?? '')?.[1]);
  // The grace, then jobs and the database close; the local agents give their workloads 10 s.
  t.true(stopSeconds >= defaults.server.shutdown_grace_ms / 1000 + 10, `TimeoutStopSec=${stopSeconds}s`);
  t.is(setting('ProtectSystem'), 'strict');
  t.is(setting('ReadWritePaths'), `/var/lib/${setting('StateDirectory')}`);
  t.is(setting('NoNewPrivileges'), 'yes');
  t.truthy(setting('EnvironmentFile'));
});

// KillMode=control-group signals npm, its shell and node together; this is that, on a real
// `npm start` in a process group of its own, on a PostgreSQL database on either run (like the
// other process tests here; a fresh embedded one takes long to create). Node must drain once and exit 0 (a second SIGTERM,
// forwarded by npm, would make it exit 1 without draining and log 'second signal').
test('npm start signalled as a whole process group drains once and exits 0', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'panel-unit-data-'));
  const database = await createPostgresDatabase();
  t.teardown(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    await database.drop();
  });
  const child = spawn('/usr/bin/npm', ['start'], {
    cwd: root,
    detached: true,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? dataDir,
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: dataDir,
      DATABASE_URL: database.url as string,
      PLUGINS: '',
      ADMIN_PASSWORD: 'unit-test-admin-password',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Whatever the outcome, nothing of it outlives the test.
  t.teardown(() => {
    try {
      process.kill(-(child.pid as number), 'SIGKILL');
    } catch {
      // already gone
    }
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? String(code))));
  // npm ends as soon as its shell does; systemd waits for every process of the unit, here the
  // end of the pipes node holds.
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const deadline = Date.now() + 90_000;
  while (!out.includes('"msg":"listening"') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
  t.true(out.includes('"msg":"listening"'), `did not start:\n${out}\n${err}`);
  process.kill(-(child.pid as number), 'SIGTERM');
  // npm re-raises the signal its script ended on, and systemd counts a main process ended by
  // SIGTERM as a clean stop (SuccessExitStatus); the server itself must have drained and ended.
  const started = Date.now();
  t.regex(await exited, /^(0|SIGTERM)$/, `${out}\n${err}`);
  await closed;
  // systemd SIGKILLs what is left after TimeoutStopSec.
  const stopMs = Number(/^(\d+)s$/.exec(setting('TimeoutStopSec') ?? '')?.[1]) * 1000;
  t.true(Date.now() - started < stopMs, `stopping took ${Date.now() - started} ms, TimeoutStopSec is ${stopMs} ms`);
  const messages = out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => (JSON.parse(l) as { msg: string }).msg);
  t.is(messages.filter((m) => m === 'shutting down').length, 1);
  t.true(messages.includes('stopped'));
  t.false(out.includes('second signal'));
  // Nothing of the group still runs (node, orphaned when its shell died, may linger as a zombie
  // until this container's init reaps it).
  const { stdout: left } = spawnSync('ps', ['-o', 'stat=,cmd=', '-g', String(child.pid)], { encoding: 'utf8' });
  t.deepEqual(
    left.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('Z')),
    [],
  );
});
