import { request } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, type Cluster } from '../../scripts/lib/cluster.ts';
import { createPostgresDatabase, createTestDatabase, testEngine, type TestDatabase } from '../helpers/test-database.ts';

export const adminPassword = 'admin-password-for-cluster-tests';

export interface TestCluster {
  cluster: Cluster;
  /** The PostgreSQL database the replicas share (null on the embedded one). */
  databaseUrl: string | null;
  /** The replicas' DATA_DIR (the local provisioner's agents live under instances/). */
  dataDir: string;
  close(): Promise<void>;
}

/**
 * The cluster scripts/cluster starts, for a test file: on PostgreSQL three replicas on a fresh
 * database made as every test's is; on PGlite one (the embedded database serves one process),
 * on a data directory of its own (`alwaysPostgres`: three on PostgreSQL on both runs). Either
 * way nginx runs deploy/nginx.conf in front. A start that
 * fails says what the replicas wrote to stderr.
 */
export async function startTestCluster(options: { alwaysPostgres?: boolean; env?: Record<string, string> } = {}): Promise<TestCluster> {
  // A test of several replicas as such (rolling restarts) runs them on PostgreSQL on either run.
  const database: TestDatabase | null = options.alwaysPostgres ? await createPostgresDatabase() : testEngine === 'postgres' ? await createTestDatabase() : null;
  const dir = mkdtempSync(join(tmpdir(), 'panel-cluster-test-'));
  const stderr = new Map<number, string>();
  try {
    const cluster = await startCluster({
      replicas: database ? 3 : 1,
      databaseUrl: database?.url ?? null,
      port: 0,
      dataDir: join(dir, 'data'),
      logDir: join(dir, 'logs'),
      baseEnv: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ADMIN_PASSWORD: adminPassword, PANEL_SERVER_VALIDATE_RESPONSES: 'true', LOG_LEVEL: 'info', ...options.env },
      onStderr: (n, text) => stderr.set(n, (stderr.get(n) ?? '') + text),
    });
    return {
      cluster,
      databaseUrl: database?.url ?? null,
      dataDir: join(dir, 'data'),
      close: async () => {
        await cluster.stop();
        await database?.drop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
    const said = [...stderr].map(([n, text]) => `replica ${n} stderr:\n${text}`).join('\n');
    throw new Error(`${err instanceof Error ? err.message : String(err)}${said ? `\n${said}` : ''}`, { cause: err });
  }
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: () => Record<string, unknown> & { code?: string };
}

export interface Call {
  method?: string;
  path: string;
  /** Host header (default: nginx's address as in PUBLIC_URL). */
  host?: string;
  headers?: Record<string, string>;
  body?: string | object;
  /** Source address of the client's connection to nginx (any of 127.0.0.0/8 on loopback). */
  localAddress?: string;
}

/** One request to nginx with node:http, which, unlike fetch, lets a test set Host and the source address. */
export function send(cluster: Cluster, call: Call): Promise<Answer> {
  const body = call.body === undefined ? undefined : typeof call.body === 'string' ? call.body : JSON.stringify(call.body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: cluster.port,
        method: call.method ?? 'GET',
        path: call.path,
        localAddress: call.localAddress,
        agent: false,
        headers: {
          Host: call.host ?? `127.0.0.1:${cluster.port}`,
          ...(body === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) }),
          ...call.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export async function login(cluster: Cluster, localAddress?: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await send(cluster, { method: 'POST', path: '/api/auth/login', body: { login: 'admin', password: adminPassword }, localAddress, headers });
  if (res.status !== 200) throw new Error(`login: ${res.status} ${res.text}`);
  return res.json().access_token as string;
}

/** The request ids each replica has logged a request under, by replica number. */
export function loggedRequestIds(cluster: Cluster): Map<number, Set<string>> {
  const seen = new Map<number, Set<string>>();
  for (const replica of cluster.replicas()) {
    const ids = new Set<string>();
    const text = existsSync(replica.logFile) ? readFileSync(replica.logFile, 'utf8') : '';
    for (const line of text.split('\n')) {
      if (!line.includes('"msg":"request"')) continue;
      const id = (JSON.parse(line) as { request_id?: string }).request_id;
      if (id) ids.add(id);
    }
    seen.set(replica.number, ids);
  }
  return seen;
}
