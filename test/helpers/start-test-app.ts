import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig, type DeepPartial } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import { createLogger } from '../../src/core/log/logger.ts';
import type { PanelPlugin } from '../../src/core/plugin-host/plugin.ts';
import { startServer, type RunningServer } from '../../src/server.ts';
import { createTestDatabase, type TestDatabase } from './test-database.ts';

export const testAdminPassword = 'admin-password-for-tests';

export type LogRecord = Record<string, unknown> & { level: number; msg: string };

export interface TestApp {
  url: string;
  server: RunningServer;
  testDatabase: TestDatabase;
  /** Every log line the app wrote, parsed. */
  logs: LogRecord[];
  /** The same lines as written, for what parsing hides (a key written twice). */
  logLines: string[];
  /** What the app printed to the console outside the log (the first-admin banner). */
  consoleOutput: string[];
  request(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

/** What helpers that only send requests need: an in-process app, or an API process of its own. */
export type ApiEndpoint = Pick<TestApp, 'url' | 'request'>;

export interface StartTestAppOptions {
  plugins?: PanelPlugin[];
  /** Ids to enable; defaults to every plugin passed. */
  enabled?: string[];
  config?: DeepPartial<Config>;
  /** Share a database with another test app (two replicas on one PostgreSQL). */
  testDatabase?: TestDatabase;
}

/** Log lines as objects, so tests can assert on what the app logged. */
export function captureLogs(): { logs: LogRecord[]; lines: string[]; stream: Writable } {
  const logs: LogRecord[] = [];
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        lines.push(line);
        logs.push(JSON.parse(line) as LogRecord);
      }
      done();
    },
  });
  return { logs, lines, stream };
}

export function testConfig(overrides: DeepPartial<Config> = {}, enabled: string[] = []): Readonly<Config> {
  const base: DeepPartial<Config> = {
    // Every test client is 127.0.0.1: the per-IP upgrade rate is raised like the auth limits; its own test sets real numbers.
    server: { port: 0, host: '127.0.0.1', validate_responses: true, shutdown_grace_ms: 2000, upgrade_rate_burst: 100_000 },
    log: { level: 'debug' },
    bootstrap: { admin_username: 'admin', admin_email: 'admin@example.com', admin_password: testAdminPassword },
    // Fast enough for tests, still argon2id at OWASP's minimum.
    auth: { hash_concurrency: 4 },
    // The example plugin's limit; tests that exercise it set their own numbers.
    // Auth limits are raised so tests can sign in freely; the limits test sets the real numbers.
    rate_limits: Object.fromEntries(
      [
        'example_test',
        'auth_login_account_ip',
        'auth_login_ip',
        'auth_login_account',
        'auth_register_ip',
        'auth_reset_email',
        'auth_reset_ip',
        'auth_refresh_family',
        'auth_refresh_ip',
        'auth_reset_confirm_ip',
        'streamspace_login',
        'streamspace_login_ip',
        'streamspace_api',
        'streamspace_session_create',
        'streamspace_vnc_upgrade',
        'streamspace_agent_upgrade',
      ].map((name) => [name, { limit: 1000, window_s: 60 }]),
    ),
    plugins: { enabled },
  };
  return loadConfig({ env: {}, overrides: [base, overrides] });
}

/** The real app on 127.0.0.1:0 over a fresh database cloned from the migrated template. */
export async function startTestApp(options: StartTestAppOptions = {}): Promise<TestApp> {
  const plugins = options.plugins ?? [];
  const testDatabase = options.testDatabase ?? (await createTestDatabase());
  const ownsDatabase = options.testDatabase === undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'panel-test-'));
  const config = testConfig({ ...options.config, database: { data_dir: dataDir, ...options.config?.database } }, options.enabled ?? plugins.map((p) => p.id));
  const { logs, lines, stream } = captureLogs();
  const consoleOutput: string[] = [];
  let server: RunningServer;
  try {
    server = await startServer({
      config,
      log: createLogger(config.log.level, stream),
      availablePlugins: plugins,
      database: testDatabase.database,
      console: (text) => consoleOutput.push(text),
    });
  } catch (err) {
    if (ownsDatabase) await testDatabase.drop();
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: server.url,
    server,
    testDatabase,
    logs,
    logLines: lines,
    consoleOutput,
    request: (path, init) => fetch(`${server.url}${path}`, init),
    close: async () => {
      await server.shutdown('test finished');
      if (ownsDatabase) await testDatabase.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
