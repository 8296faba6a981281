import pg from 'pg';
import { envNameFor } from '../../config/schema.ts';
import { StartupError, systemCode } from '../boot/startup-error.ts';

/** Where a postgres:// URL points, for messages (never the password). */
export interface PostgresTarget {
  host: string;
  port: number;
  user: string | null;
  database: string;
}

export function targetOf(url: string): PostgresTarget {
  const parsed = new URL(url);
  // ?host=/run/postgresql (a Unix socket directory) wins over the URL's host, as in libpq.
  const host = parsed.searchParams.get('host') ?? (decodeURIComponent(parsed.hostname).replace(/^\[|\]$/g, '') || 'localhost');
  const user = decodeURIComponent(parsed.username) || null;
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || user || 'postgres';
  return { host, port: Number(parsed.port || parsed.searchParams.get('port') || 5432), user, database };
}

const shellWord = (word: string): string => (/^[\w./:@%+=-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`);

/** The one line an operator reads when the first connection fails: what is wrong and what to do. */
export function explainConnectError(err: unknown, url: string, connectTimeoutMs: number): StartupError {
  const t = targetOf(url);
  const at = `PostgreSQL at ${t.host}:${t.port}`;
  const who = t.user ? `user "${t.user}"` : 'the default user';
  const pgCode = typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : undefined;
  const message = err instanceof Error ? err.message : String(err);
  const problem = (text: string) => new StartupError('DATABASE_URL', text, { cause: err });
  switch (pgCode ?? systemCode(err)) {
    case '3D000': {
      const createdb = ['createdb', '-h', t.host, '-p', String(t.port), ...(t.user ? ['-U', t.user] : []), t.database].map(shellWord).join(' ');
      return problem(`database "${t.database}" does not exist on ${t.host}:${t.port}; create it with: ${createdb}`);
    }
    case '28P01':
      return problem(`${at} rejected ${who}: password authentication failed; fix the user name and password in DATABASE_URL`);
    case '28000':
      return problem(`${at} rejected ${who} (${message}); fix the user in DATABASE_URL, or allow this host in the server's pg_hba.conf`);
    case '53300':
      return problem(`${at} has no connection slot left (${message}); raise max_connections there or lower ${envNameFor('database.pool_max')} on the replicas`);
    case '57P03':
      return problem(`${at} is starting up or shutting down (${message}); start again once it accepts connections`);
    case 'ECONNREFUSED':
      return problem(`${at} refused the connection (nothing listens there); start PostgreSQL, or fix the host and port in DATABASE_URL`);
    case 'ENOENT':
      return problem(`no PostgreSQL socket in ${t.host} for port ${t.port}; start PostgreSQL, or fix the host and port in DATABASE_URL`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return problem(`host "${t.host}" not found; fix the host in DATABASE_URL`);
    default:
      if (/client password must be a string/.test(message)) return problem(`${at} asks ${who} for a password and DATABASE_URL has none; add it (postgres://user:password@host/db)`);
      if (/timeout|terminated/i.test(message))
        return problem(`${at} did not answer within ${connectTimeoutMs} ms; check that the host is reachable and the server is up, or raise ${envNameFor('database.connect_timeout_ms')}`);
      return problem(`cannot connect to ${at} as ${who}: ${message}; check DATABASE_URL and the server (LOG_LEVEL=debug logs the full error)`);
  }
}

/**
 * One real connection and one query before anything else uses the server: the pool connects
 * lazily, so without this the first sign of a wrong URL is a migration's stack trace.
 */
export async function probePostgres(url: string, connectTimeoutMs: number): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs });
  // A connection that breaks after connecting would otherwise be an 'error' event nobody handles.
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    throw explainConnectError(err, url, connectTimeoutMs);
  } finally {
    await client.end().catch(() => undefined);
  }
}
