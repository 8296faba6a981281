import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killLocalAgents } from '../../src/core/instances/local-provisioner.ts';
import { shippedPlugins } from '../../plugins/index.ts';
import { startTestApp, testAdminPassword, type TestApp } from '../../test/helpers/start-test-app.ts';
import { SimAgent } from './streamspace-sim-agent.ts';
import { forgedTokens, type TokenClaims } from './fuzz-tokens.ts';

/** Who a request claims to be. `owner` owns every real id; `other` is another user trying them. */
export type IdentityName = 'anonymous' | 'alg-none' | 'other-key' | 'expired' | 'other-audience' | 'foreign-api' | 'other' | 'owner' | 'admin';
export const identityNames: IdentityName[] = ['anonymous', 'alg-none', 'other-key', 'expired', 'other-audience', 'foreign-api', 'other', 'owner', 'admin'];
/** The identities that must be refused with 401 on every protected route. */
export const unauthenticated = new Set<IdentityName>(['anonymous', 'alg-none', 'other-key', 'expired', 'other-audience', 'foreign-api']);

interface ApiTokens {
  core: string;
  v1: string;
}

export interface Stand {
  url: string;
  app: TestApp;
  /** The Authorization header of an identity on a path (the portal and `/api/v1` take different tokens). */
  authorization(identity: IdentityName, path: string): string | undefined;
  /** The real value of a path parameter of an operation, or undefined when there is none to use. */
  realId(path: string, name: string): string | undefined;
  /** Texts that must never appear in an answer (secrets, the data directory, the repository). */
  secrets: string[];
  close(): Promise<void>;
}

/** Big enough for the 100 KB strings to reach validation, small enough that over-limit bodies are cheap. */
export const fuzzBodyLimitBytes = 200_000;

const jwtSecret = randomBytes(32).toString('base64url');

async function post(app: TestApp, path: string, body: unknown, token?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await app.request(path, { method: 'POST', headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

async function get(app: TestApp, path: string, token: string): Promise<Record<string, unknown>> {
  const res = await app.request(path, { headers: { Authorization: `Bearer ${token}` } });
  return (await res.json()) as Record<string, unknown>;
}

async function signIn(app: TestApp, login: string, password: string): Promise<ApiTokens & { id: string }> {
  const core = await post(app, '/api/auth/login', { login, password });
  const v1 = await post(app, '/api/v1/auth/login', { username: login, password });
  if (core.status !== 200 || v1.status !== 200) throw new Error(`signing in ${login} answered ${core.status} and ${v1.status}`);
  return { core: core.body.access_token as string, v1: v1.body.token as string, id: (core.body.user as { id: string }).id };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const claimsOf = (token: string): TokenClaims => JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as TokenClaims;

/**
 * The real app with every shipped plugin, and real things behind the ids the fuzzer puts in
 * paths: the owner's game server and dev container (local reference agents), a StreamSpace
 * session on a simulated agent, a template, and a victim user for the admin routes.
 */
export async function startStand(): Promise<Stand> {
  const dataDir = mkdtempSync(join(tmpdir(), 'panel-fuzz-'));
  const app = await startTestApp({
    plugins: shippedPlugins,
    config: {
      provisioner: 'local',
      database: { data_dir: dataDir },
      server: { body_limit_bytes: fuzzBodyLimitBytes },
      secrets: { jwt_secret: jwtSecret },
      agents: { poll_interval_ms: 500, poll_timeout_ms: 1_000, poll_connect_timeout_ms: 500, action_timeout_ms: 3_000, max_backoff_ms: 2_000, provision_deadline_ms: 30_000, breaker_cooldown_ms: 200 },
      // The shipped numbers for session creation: a refused token must still answer 401 past them.
      rate_limits: { streamspace_session_create: { limit: 10, window_s: 60 } },
      // The validating test mode stays on: an answer that breaks its own schema is a 500 the oracle sees.
      log: { level: 'warn' },
    },
  });
  const cleanups: Array<() => Promise<void>> = [];
  const shutdown = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    await app.close();
    killLocalAgents(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const admin = await signIn(app, 'admin', testAdminPassword);
    const users: Record<'owner' | 'other' | 'victim', ApiTokens & { id: string }> = {} as never;
    for (const name of ['owner', 'other', 'victim'] as const) {
      const username = `fuzz-${name}-${process.pid}`;
      const password = `fuzz-${name}-password-long`;
      const created = await post(app, '/api/admin/users', { username, email: `${username}@example.com`, password, role: 'user' }, admin.core);
      if (created.status !== 201) throw new Error(`creating ${username} answered ${created.status}`);
      users[name] = await signIn(app, username, password);
    }
    const owner = users.owner;
    const game = await post(app, '/api/game/servers', { name: 'Fuzz server' }, owner.core);
    const dev = await post(app, '/api/dev', { name: 'Fuzz box' }, owner.core);
    if (game.status !== 202 || dev.status !== 202) throw new Error(`creating the owner's instances answered ${game.status} and ${dev.status}`);
    const gameId = (game.body.server as { id: string }).id;
    const devId = (dev.body.container as { id: string }).id;
    const agentId = `fuzz-agent-${process.pid}`;
    const key = await post(app, '/api/v1/admin/agent-keys', { agent_id: agentId }, admin.v1);
    const agent = new SimAgent({ url: app.url, agentId, key: key.body.key as string, platform: agentId, commandDelayMs: 20 });
    await agent.start();
    cleanups.push(() => agent.stop());
    const session = await post(app, '/api/v1/sessions', { template: 'firefox-browser', platform: agentId }, owner.v1);
    if (session.status !== 202) throw new Error(`creating the owner's session answered ${session.status}: ${JSON.stringify(session.body)}`);
    const sessionId = session.body.id as string;
    await until(
      'the instances to be active',
      async () => {
        const states = await Promise.all([get(app, `/api/game/servers/${gameId}`, owner.core), get(app, `/api/dev/${devId}`, owner.core)]);
        const lifecycle = (b: Record<string, unknown>): unknown => ((Object.values(b)[0] as { state?: { lifecycle?: string } }).state ?? {}).lifecycle;
        return states.every((s) => lifecycle(s) === 'active') ? true : undefined;
      },
      30_000,
    );
    // A running workload, so console commands and logs reach it instead of stopping at 409.
    await post(app, `/api/game/servers/${gameId}/start`, {}, owner.core);
    await until(
      'the game server to run',
      async () => (((await get(app, `/api/game/servers/${gameId}`, owner.core)).server as { state: { status?: string } }).state.status === 'running' ? true : undefined),
      20_000,
    );
    const backup = await post(app, `/api/game/servers/${gameId}/backups`, {}, owner.core);
    const backupId = await until(
      'the backup',
      async () => {
        const list = (await get(app, `/api/game/servers/${gameId}/backups`, owner.core)).backups as Array<{ id: string }> | undefined;
        return backup.status === 202 ? list?.[0]?.id : 'none';
      },
      15_000,
    );

    const forged = forgedTokens(jwtSecret, claimsOf(owner.core), claimsOf(owner.v1));
    const tokenOf = (identity: IdentityName, v1: boolean): string | undefined => {
      switch (identity) {
        case 'anonymous':
          return undefined;
        case 'foreign-api':
          return v1 ? owner.core : owner.v1;
        case 'other':
        case 'owner':
          return v1 ? users[identity].v1 : users[identity].core;
        case 'admin':
          return v1 ? admin.v1 : admin.core;
        default:
          return (v1 ? forged.v1 : forged.core)[identity];
      }
    };
    const ids: Array<[RegExp, string, string]> = [
      [/^\/api\/game\/servers\/\{id\}/, 'id', gameId],
      [/^\/api\/game\/servers\/\{id\}\/backups\/\{backupId\}/, 'backupId', backupId],
      [/^\/api\/dev\/\{id\}/, 'id', devId],
      [/^\/api\/v1\/sessions\/\{id\}/, 'id', sessionId],
      [/^\/vnc-viewer\/\{session_id\}/, 'session_id', sessionId],
      [/^\/api\/v1\/templates\/\{name\}/, 'name', 'firefox-browser'],
      [/^\/api\/v1\/agents\/\{agent_id\}/, 'agent_id', agentId],
      [/^\/api\/v1\/admin\/agent-keys\/\{agent_id\}/, 'agent_id', agentId],
      [/^\/api\/admin\/users\/\{id\}/, 'id', users.victim.id],
      [/^\/api\/admin\/billing\/accounts\/\{user_id\}/, 'user_id', users.victim.id],
    ];
    return {
      url: app.url,
      app,
      authorization: (identity, path) => {
        const token = tokenOf(identity, path.startsWith('/api/v1/'));
        return token === undefined ? undefined : `Bearer ${token}`;
      },
      realId: (path, name) => ids.find(([pattern, param]) => param === name && pattern.test(path))?.[2],
      secrets: [jwtSecret, testAdminPassword, 'fuzz-owner-password-long', key.body.key as string, dataDir],
      close: shutdown,
    };
  } catch (err) {
    await shutdown();
    throw err;
  }
}
