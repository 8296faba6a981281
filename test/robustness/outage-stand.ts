import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startReplica, type ReplicaProcess } from '../../scripts/lib/replica-process.ts';
import { freeLoopbackPort } from '../../scripts/lib/desktop-processes.ts';
import { startPrivatePostgres, type PrivatePostgres } from '../helpers/private-postgres.ts';
import { startSwitchableProxy, type SwitchableProxy } from '../helpers/switchable-proxy.ts';
import { createUser, login, type Session } from '../helpers/auth.ts';
import { openSse, type SseClient } from '../helpers/sse-client.ts';
import { expectOpen, type TestSocket } from '../helpers/ws-client.ts';
import type { ApiEndpoint } from '../helpers/start-test-app.ts';
import { call, createServer, killLocalAgents, openConsole, waitForServer } from '../plugins/game/game-helpers.ts';
import { call as v1Call, connectAgent, v1, v1Login, v1User, waitState } from '../plugins/streamspace/ss-helpers.ts';
import { handshake, openViewer, type Viewer } from '../plugins/streamspace/vnc-viewer.ts';

const adminPassword = 'admin-password-for-outage-tests';
export const metricsToken = 'metrics-token-for-outage-tests';

/**
 * One API process (started as `npm start` starts it) on a PostgreSQL server of its own, with
 * what a portal keeps open: a game server running on a real reference agent, its console
 * WebSocket, and the user's event stream. `viaProxy` puts a TCP proxy between the API and the
 * server, so the network path can be blackholed. Also a StreamSpace session on a simulated
 * agent (connected to the API over its agent socket) with a VNC viewer open on it.
 */
export interface OutageStand {
  postgres: PrivatePostgres;
  proxy: SwitchableProxy | null;
  api: ReplicaProcess;
  endpoint: ApiEndpoint;
  admin: Session;
  user: Session;
  serverId: string;
  console: TestSocket;
  /** A StreamSpace VNC viewer, relayed to a simulated agent's echoing VNC server, past its handshake. */
  viewer: Viewer;
  events: SseClient;
  /** What the API wrote to stdout (its JSON log) and stderr. */
  output(): string;
  /** A query on the API's database, straight to the server (not through the proxy). */
  query<R extends pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<R[]>;
  close(): Promise<void>;
}

export const consoleLine =
  (text: string) =>
  (frame: unknown): boolean => {
    const f = frame as { type?: string; data?: string };
    return f.type === 'line' && String(f.data).includes(text);
  };

export async function startOutageStand(options: { viaProxy: boolean }): Promise<OutageStand> {
  const cleanups: Array<() => Promise<void> | void> = [];
  const cleanup = async (): Promise<void> => {
    for (const step of cleanups.reverse()) await Promise.resolve(step()).catch(() => undefined);
  };
  try {
    const postgres = await startPrivatePostgres();
    cleanups.push(() => postgres.destroy());
    const direct = await postgres.createDatabase('panel');
    const proxy = options.viaProxy ? await startSwitchableProxy(`http://127.0.0.1:${postgres.port}`) : null;
    if (proxy) cleanups.push(() => proxy.close());
    const databaseUrl = proxy ? `postgres://postgres@127.0.0.1:${new URL(proxy.url).port}/panel` : direct;
    const dataDir = mkdtempSync(join(tmpdir(), 'panel-outage-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    cleanups.push(() => killLocalAgents(dataDir));
    let output = '';
    const collect = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
    };
    const api = await startReplica({
      port: await freeLoopbackPort(),
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        DATABASE_URL: databaseUrl,
        DATA_DIR: dataDir,
        PROVISIONER: 'local',
        PLUGINS: 'game,streamspace',
        PANEL_PLUGINS_CONFIG: JSON.stringify({ streamspace: { heartbeat_interval_s: 2, sweep_every_ms: 200, state_wait_ms: 3000 } }),
        ADMIN_USERNAME: 'admin',
        ADMIN_EMAIL: 'admin@example.com',
        ADMIN_PASSWORD: adminPassword,
        METRICS_TOKEN: metricsToken,
        LOG_LEVEL: 'info',
        PANEL_SERVER_VALIDATE_RESPONSES: 'true',
        PANEL_AGENTS_POLL_INTERVAL_MS: '500',
      },
      stdout: collect,
      stderr: collect,
    });
    cleanups.push(async () => void (await api.stop()));
    const endpoint: ApiEndpoint = { url: api.url, request: (path, init) => fetch(`${api.url}${path}`, init) };
    const admin = await login(endpoint, 'admin', adminPassword);
    const user = await createUser(endpoint, admin);
    const server = await createServer(endpoint, user, 'Outage survival');
    await waitForServer(endpoint, user, server.id, (s) => s.state.lifecycle === 'active', 'the server active');
    const started = await call(endpoint, user, 'POST', `/api/game/servers/${server.id}/start`);
    if (started.status !== 202) throw new Error(`start answered ${started.status}`);
    await waitForServer(endpoint, user, server.id, (s) => s.state.status === 'running', 'the server running');
    const console = expectOpen(await openConsole(endpoint, user, server.id));
    cleanups.push(() => console.ws.terminate());
    const ssAdmin = await v1Login(endpoint, 'admin', adminPassword);
    const agent = await connectAgent(endpoint, ssAdmin, { agentId: 'sim-outage', platform: 'sim-outage' });
    cleanups.push(() => agent.stop());
    const ssUser = await v1User(endpoint, ssAdmin);
    const session = await v1Call(endpoint, 'POST', `${v1}/sessions`, ssUser.token, { template: 'firefox-browser', platform: 'sim-outage' });
    if (session.status !== 202) throw new Error(`a StreamSpace session answered ${session.status}`);
    await waitState(endpoint, ssUser.token, session.body.id as string, 'running');
    const viewer = await openViewer(api.url, session.body.id as string, ssUser.token);
    cleanups.push(() => viewer.ws.terminate());
    await handshake(viewer);
    const events = await openSse(`${api.url}/api/events`, { Authorization: `Bearer ${user.access_token}` });
    cleanups.push(() => events.close());
    const query = async <R extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<R[]> => {
      const client = new pg.Client({ connectionString: direct, connectionTimeoutMillis: 5_000 });
      await client.connect();
      try {
        return (await client.query<R>(sql, values)).rows;
      } finally {
        await client.end();
      }
    };
    return { postgres, proxy, api, endpoint, admin, user, serverId: server.id, console, viewer, events, output: () => output, query, close: cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
