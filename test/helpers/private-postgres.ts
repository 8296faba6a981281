import { execFile } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/**
 * A PostgreSQL server of one test's own, which it may stop, start and cut off (the shared
 * server on :5432 serves the other tests at the same time). PostgreSQL refuses to run as root,
 * so under root (CI) its programs run as the `postgres` user, in a directory that user owns.
 */
export interface PrivatePostgres {
  port: number;
  /** The URL of one of its databases. */
  url(database?: string): string;
  createDatabase(name: string): Promise<string>;
  /** `pg_ctl stop -m fast`: every session is ended (57P01) and new connections are refused. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Ends every session on one database (pg_terminate_backend), the server staying up. */
  terminateBackends(database: string): Promise<number>;
  /** Stops it (immediately) and removes its directory. */
  destroy(): Promise<void>;
}

function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && /^\d+$/.test(d.name))
    .map((d) => Number(d.name))
    .sort((a, b) => b - a);
  if (versions.length === 0) throw new Error(`no PostgreSQL server programs under ${root}; install postgresql`);
  return join(root, String(versions[0]), 'bin');
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 0;
}

async function postgresUid(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

export interface PrivatePostgresOptions {
  /** Connections over TCP must give this password for `postgres` (scram-sha-256) instead of being trusted. */
  password?: string;
}

export async function startPrivatePostgres(settings: PrivatePostgresOptions = {}): Promise<PrivatePostgres> {
  const bin = binDir();
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'panel-private-pg-'));
  if (asRoot) {
    const { uid, gid } = await postgresUid();
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const program = (name: string, args: string[]) => (asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, name), ...args]) : run(join(bin, name), args));
  const port = await freePort();
  // No fsync: a test's data need not survive a power cut, and the shared disk is slow.
  const auth = ['--auth=trust'];
  if (settings.password !== undefined) {
    const pwfile = join(dir, 'password');
    writeFileSync(pwfile, `${settings.password}\n`, { mode: 0o644 });
    auth.splice(0, 1, '--auth-local=trust', '--auth-host=scram-sha-256', `--pwfile=${pwfile}`);
  }
  await program('initdb', ['-D', data, '-U', 'postgres', ...auth, '-N']);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`;
  const start = async (): Promise<void> => {
    await program('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'server.log'), '-w', '-t', '30', 'start']);
  };
  const stop = async (mode: 'fast' | 'immediate' = 'fast'): Promise<void> => {
    await program('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '30', 'stop']);
  };
  const credentials = settings.password !== undefined ? `postgres:${encodeURIComponent(settings.password)}` : 'postgres';
  const url = (database = 'postgres'): string => `postgres://${credentials}@127.0.0.1:${port}/${database}`;
  const admin = async <T>(work: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: url(), connectionTimeoutMillis: 5_000 });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  };
  try {
    await start();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    url,
    createDatabase: async (name) => {
      await admin((c) => c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`));
      return url(name);
    },
    stop: () => stop('fast'),
    start,
    terminateBackends: (database) =>
      admin(async (c) => {
        const result = await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);
        return result.rowCount ?? 0;
      }),
    destroy: async () => {
      await stop('immediate').catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
