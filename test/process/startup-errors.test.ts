import test, { type ExecutionContext } from 'ava';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listSettings } from '../../src/config/settings.ts';
import { probePostgres, targetOf } from '../../src/core/db/postgres-probe.ts';
import { startPrivatePostgres } from '../helpers/private-postgres.ts';
import { runToExit, type FinishedProcess } from '../helpers/spawn-server.ts';
import { createEmptyDatabase, postgresServerUrl, testEngine } from '../helpers/test-database.ts';

// Every case spawns `npm start`'s entry point and waits for it to give up; they run concurrently.

/** A data directory that does not exist yet, inside a temporary one: a case that starts nothing must leave it absent. */
function freshDataDir(t: ExecutionContext): { parent: string; dataDir: string } {
  const parent = mkdtempSync(join(tmpdir(), 'panel-boot-'));
  t.teardown(() => rmSync(parent, { recursive: true, force: true }));
  return { parent, dataDir: join(parent, 'data') };
}

/** The refusal the operator sees: exit 1, exactly one line on stderr, no stack frame anywhere on the terminal. */
function assertOneLine(t: ExecutionContext, run: FinishedProcess, line: RegExp): void {
  t.is(run.code, 1, run.stderr);
  const lines = run.stderr.trimEnd().split('\n');
  t.is(lines.length, 1, run.stderr);
  t.regex(lines[0] ?? '', line);
  t.notRegex(run.stderr + run.stdout, /^\s+at .+:\d+:\d+\)?$/m, 'no stack trace');
}

async function holdPort(t: ExecutionContext): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => void server.close());
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

test('npm start -- --help prints every option and environment variable, starts nothing, exits 0', async (t) => {
  const { dataDir } = freshDataDir(t);
  const run = await runToExit('src/main.ts', ['--help'], { DATA_DIR: dataDir });
  t.is(run.code, 0, run.stderr);
  t.is(run.stderr, '');
  t.regex(run.stdout, /^Usage: npm start/);
  t.regex(run.stdout, /-h, --help/);
  t.regex(run.stdout, /\n {2}PORT {2}\[default: 8080\]\n {6}\S/);
  t.regex(run.stdout, /\n {2}DATABASE_URL {2}\[secret; default: unset\]/);
  for (const setting of listSettings()) t.true(run.stdout.includes(`\n  ${setting.env}  [`), `${setting.env} is listed`);
  t.false(existsSync(dataDir), 'nothing was created in DATA_DIR');
  t.notRegex(run.stdout, /"msg":/, 'no log line: no server was started');
});

test('npm start with an argument it does not know says so in one line and exits 2', async (t) => {
  const run = await runToExit('src/main.ts', ['--port', '3000'], {});
  t.is(run.code, 2);
  t.is(run.stderr, 'unknown argument "--port"; npm start takes its settings from environment variables (npm start -- --help lists them)\n');
});

test(`a port in use stops the boot before anything is migrated or created (${testEngine})`, async (t) => {
  const port = await holdPort(t);
  const { dataDir } = freshDataDir(t);
  const db = testEngine === 'postgres' ? await createEmptyDatabase() : null;
  t.teardown(async () => db?.drop());
  const run = await runToExit('src/main.ts', [], { PORT: String(port), DATA_DIR: dataDir, ...(db?.url ? { DATABASE_URL: db.url } : {}) });
  assertOneLine(t, run, new RegExp(`^cannot start: PORT: 127\\.0\\.0\\.1:${port} is already in use by another process; stop that process, or set PORT \\(or HOST\\) to a free address$`));
  t.notRegex(run.stdout, /database connected|migration applied|generated and stored/);
  t.notRegex(run.stderr, /password/i, 'no first admin was created');
  t.false(existsSync(dataDir), 'nothing was created in DATA_DIR');
  if (db) {
    const tables = await db.database.knex('information_schema.tables').where({ table_schema: 'public' }).count<{ count: string }[]>('* as count');
    t.is(Number(tables[0]?.count), 0, 'the database was not migrated');
  }
});

test(`a DATA_DIR this user cannot write stops the boot in one line (${testEngine})`, async (t) => {
  const { parent, dataDir } = freshDataDir(t);
  // Root writes anywhere: the server runs as nobody then, in a directory only root may write.
  const asRoot = process.getuid?.() === 0;
  const db = testEngine === 'postgres' ? await createEmptyDatabase() : null;
  t.teardown(async () => db?.drop());
  chmodSync(parent, asRoot ? 0o755 : 0o500);
  t.teardown(() => chmodSync(parent, 0o700));
  const run = await runToExit('src/main.ts', [], { DATA_DIR: dataDir, HOME: tmpdir(), ...(db?.url ? { DATABASE_URL: db.url } : {}) }, asRoot ? { uid: 65534, gid: 65534 } : {});
  assertOneLine(
    t,
    run,
    new RegExp(
      `^cannot start: DATA_DIR: cannot write to ${dataDir}: permission denied \\(${parent}, where it would be created\\); make it a directory this user \\(uid \\d+\\) can write, or set DATA_DIR to one$`,
    ),
  );
  t.notRegex(run.stdout, /migration applied/);
  t.false(existsSync(dataDir));
});

// The cases below are about DATABASE_URL: they need a PostgreSQL server whatever the run's
// engine (like the multi-process tests), and run the same on both runs of the suite.
{
  const pgEnv = (t: ExecutionContext, url: string): Record<string, string> => ({ DATABASE_URL: url, DATA_DIR: freshDataDir(t).dataDir });

  test('a database that does not exist: one line with the createdb command, the full error in the debug log', async (t) => {
    const name = `panel_missing_${process.pid}_${Date.now()}`;
    const url = new URL(postgresServerUrl);
    url.pathname = `/${name}`;
    const run = await runToExit('src/main.ts', [], { ...pgEnv(t, url.toString()), LOG_LEVEL: 'debug' });
    assertOneLine(
      t,
      run,
      new RegExp(`^cannot start: DATABASE_URL: database "${name}" does not exist on 127\\.0\\.0\\.1:5432; create it with: createdb -h 127\\.0\\.0\\.1 -p 5432 -U postgres ${name}$`),
    );
    const debug = run.stdout.split('\n').filter((l) => l.includes('"msg":"could not start"'));
    t.is(debug.length, 1);
    t.like(JSON.parse(debug[0] ?? '{}'), { level: 20, setting: 'DATABASE_URL', err: { code: '3D000' } });
    t.notRegex(run.stdout, /database connected/);
  });

  test('PostgreSQL refusing connections (a closed port): one line naming DATABASE_URL', async (t) => {
    // A port the OS just handed out and that was closed again: nothing listens there.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const run = await runToExit('src/main.ts', [], pgEnv(t, `postgres://postgres@127.0.0.1:${port}/panel`));
    assertOneLine(
      t,
      run,
      new RegExp(`^cannot start: DATABASE_URL: PostgreSQL at 127\\.0\\.0\\.1:${port} refused the connection \\(nothing listens there\\); start PostgreSQL, or fix the host and port in DATABASE_URL$`),
    );
  });

  test('wrong credentials: one line saying the password was refused', async (t) => {
    const server = await startPrivatePostgres({ password: 'right-password' });
    t.teardown(() => server.destroy());
    const run = await runToExit('src/main.ts', [], pgEnv(t, `postgres://postgres:wrong-password@127.0.0.1:${server.port}/postgres`));
    assertOneLine(
      t,
      run,
      new RegExp(`^cannot start: DATABASE_URL: PostgreSQL at 127\\.0\\.0\\.1:${server.port} rejected user "postgres": password authentication failed; fix the user name and password in DATABASE_URL$`),
    );
    t.false(run.stderr.includes('wrong-password'), 'the password is not echoed');
    // The same server without any password in the URL (in process: the probe is what main.ts runs).
    const noPassword = await t.throwsAsync(probePostgres(`postgres://postgres@127.0.0.1:${server.port}/postgres`, 2_000));
    t.is(noPassword?.message, `DATABASE_URL: PostgreSQL at 127.0.0.1:${server.port} asks user "postgres" for a password and DATABASE_URL has none; add it (postgres://user:password@host/db)`);
  });
}

test('the createdb command and the messages name the host, port, user and database the URL means', (t) => {
  t.deepEqual(targetOf('postgres://panel:secret@db.example:6543/panel_prod'), { host: 'db.example', port: 6543, user: 'panel', database: 'panel_prod' });
  t.deepEqual(targetOf('postgresql:///panel?host=/run/postgresql'), { host: '/run/postgresql', port: 5432, user: null, database: 'panel' });
  t.deepEqual(targetOf('postgres://ops%40corp@[::1]/'), { host: '::1', port: 5432, user: 'ops@corp', database: 'ops@corp' });
});

test('a host that does not resolve: one line naming the host', async (t) => {
  const err = await t.throwsAsync(probePostgres('postgres://postgres@panel-no-such-host.invalid:5432/panel', 2_000));
  t.is(err?.message, 'DATABASE_URL: host "panel-no-such-host.invalid" not found; fix the host in DATABASE_URL');
});
