import { streamspacePlugin } from '../../../plugins/streamspace/index.ts';
import { SimAgent, type SimAgentOptions } from '../../../scripts/lib/streamspace-sim-agent.ts';
import { startTestApp, testAdminPassword, type ApiEndpoint, type TestApp } from '../../helpers/start-test-app.ts';
import type { DeepPartial } from '../../../src/config/load.ts';
import type { TestDatabase } from '../../helpers/test-database.ts';
import type { Config } from '../../../src/config/schema.ts';

export const v1 = '/api/v1';

/** Response bodies, read loosely in tests: the app itself checks every body against its schema (validate_responses). */
export type Loose = ReturnType<typeof JSON.parse>;

export interface V1Session {
  token: string;
  user: { id: string; username: string; role: string };
}

/** The app with only the streamspace plugin; pass `testDatabase` for a second replica on the same database. */
export async function startStreamspace(config: DeepPartial<Config> = {}, streamspace: Record<string, unknown> = {}, testDatabase?: TestDatabase): Promise<TestApp> {
  return startTestApp({
    testDatabase,
    plugins: [streamspacePlugin],
    config: { ...config, plugins: { config: { streamspace: { heartbeat_interval_s: 2, sweep_every_ms: 200, state_wait_ms: 3000, ...streamspace } } } },
  });
}

/** The app and its admin's v1 session, as most files here start; a failed login closes the app again. */
export async function startV1App(): Promise<{ app: TestApp; admin: V1Session }> {
  const app = await startStreamspace();
  try {
    return { app, admin: await v1Admin(app) };
  } catch (err) {
    await app.close();
    throw err;
  }
}

export async function call(
  app: ApiEndpoint,
  method: string,
  path: string,
  token?: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Loose; headers: Headers }> {
  const res = await app.request(path, {
    method,
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? null : JSON.parse(text), headers: res.headers };
}

export async function v1Login(app: ApiEndpoint, username: string, password: string): Promise<V1Session> {
  const res = await call(app, 'POST', `${v1}/auth/login`, undefined, { username, password });
  if (res.status !== 200) throw new Error(`login ${username}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as V1Session;
}

export const v1Admin = (app: TestApp): Promise<V1Session> => v1Login(app, 'admin', testAdminPassword);

let users = 0;
export async function v1User(app: ApiEndpoint, admin: V1Session, role: 'user' | 'admin' = 'user'): Promise<V1Session> {
  users += 1;
  const username = `ss.user${process.pid}x${users}`;
  const password = `password-${users}-long-enough`;
  const res = await call(app, 'POST', `${v1}/users`, admin.token, { username, email: `${username}@example.com`, password, role });
  if (res.status !== 201) throw new Error(`create user: ${res.status} ${JSON.stringify(res.body)}`);
  return v1Login(app, username, password);
}

/** Issues a key and connects a simulated agent (in-process; the lifecycle test also runs the CLI). */
export async function connectAgent(app: ApiEndpoint, admin: V1Session, options: Partial<SimAgentOptions> & { agentId: string }): Promise<SimAgent> {
  const issued = await call(app, 'POST', `${v1}/admin/agent-keys`, admin.token, { agent_id: options.agentId });
  if (issued.status !== 201) throw new Error(`issue key: ${issued.status} ${JSON.stringify(issued.body)}`);
  const agent = new SimAgent({ url: app.url, key: issued.body.key, commandDelayMs: 20, ...options });
  await agent.start();
  return agent;
}

export async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function waitState(app: ApiEndpoint, token: string, id: string, state: string, timeoutMs = 10_000): Promise<Loose> {
  return waitFor(
    `session ${id} to be ${state}`,
    async () => {
      const res = await call(app, 'GET', `${v1}/sessions/${id}`, token);
      return res.body?.state === state ? res.body : null;
    },
    timeoutMs,
  );
}

let agentCount = 0;

/**
 * Runs `body` with a fresh simulated agent whose platform is its own id (so a test's
 * sessions land only there, whatever other tests do), stopping the agent afterwards.
 */
export async function withAgent<T>(app: TestApp, admin: V1Session, options: Partial<SimAgentOptions>, body: (agent: SimAgent, agentId: string) => Promise<T>): Promise<T> {
  agentCount += 1;
  const agentId = `sim-${process.pid}-${agentCount}`;
  const agent = await connectAgent(app, admin, { agentId, platform: agentId, ...options });
  try {
    return await body(agent, agentId);
  } finally {
    await agent.stop();
  }
}
