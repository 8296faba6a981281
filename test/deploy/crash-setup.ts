import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startReplica, type ReplicaProcess } from '../../scripts/lib/replica-process.ts';
import { SimAgent } from '../../scripts/lib/streamspace-sim-agent.ts';
import type { FakeStripe } from '../fakes/fake-stripe.ts';
import { eventually } from '../helpers/agent-core.ts';
import type { ReferenceAgent } from '../helpers/reference-agent.ts';
import { callApi } from './crash-client.ts';
import type { CrashSetup } from './crash-workloads.ts';

export const crashAdminPassword = 'admin-password-for-crash-tests';
const lifted = { limit: 100_000, window_s: 60 };

/**
 * The API's environment: PostgreSQL, the fake Stripe, the static pool, and timings short
 * enough that work a crash abandons is taken over within seconds (a 2 s work lease, a 1 s
 * StreamSpace ack timeout). Rate limits are lifted: the bursts are not abuse.
 */
export function crashEnv(databaseUrl: string, stripe: FakeStripe): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    DATABASE_URL: databaseUrl,
    DATA_DIR: mkdtempSync(join(tmpdir(), 'panel-crash-')),
    ADMIN_PASSWORD: crashAdminPassword,
    LOG_LEVEL: 'warn',
    PROVISIONER: 'static',
    STRIPE_SECRET_KEY: stripe.secretKey,
    STRIPE_WEBHOOK_SECRET: stripe.webhookSecret,
    STRIPE_API_BASE_URL: stripe.url,
    PANEL_AGENTS_WORK_LEASE_MS: '2000',
    PANEL_AGENTS_PROVISION_DEADLINE_MS: '20000',
    PANEL_AGENTS_POLL_INTERVAL_MS: '500',
    PANEL_RATE_LIMITS: JSON.stringify(
      Object.fromEntries(
        [
          'auth_register_ip',
          'auth_login_ip',
          'auth_login_account_ip',
          'auth_login_account',
          'game_backup_create',
          'streamspace_api',
          'streamspace_session_create',
          'streamspace_login',
          'streamspace_login_ip',
        ].map((k) => [k, lifted]),
      ),
    ),
    PANEL_PLUGINS_CONFIG: JSON.stringify({
      streamspace: { commands: { ack_timeout_ms: 1_000, max_attempts: 5, result_timeout_ms: 30_000, reconnect_wait_ms: 30_000, keep_days: 30 }, sweep_every_ms: 500, stuck_after_ms: 2_000 },
    }),
  };
}

export function startApi(port: number, env: NodeJS.ProcessEnv, stderr: (text: string) => void): Promise<ReplicaProcess> {
  return startReplica({ port, env, stdout: 'ignore', stderr: (chunk) => stderr(chunk.toString()) });
}

const must = async (what: string, reply: Promise<{ status: number; body: Record<string, unknown> }>, status: number): Promise<Record<string, unknown>> => {
  const r = await reply;
  if (r.status !== status) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
};

async function register(base: string, username: string): Promise<{ token: string; userId: string }> {
  await must(`register ${username}`, callApi(base, 'POST', '/api/auth/register', undefined, { username, email: `${username}@example.test`, password: 'a long enough password' }), 201);
  const login = await must(`login ${username}`, callApi(base, 'POST', '/api/auth/login', undefined, { login: username, password: 'a long enough password' }), 200);
  return { token: login.access_token as string, userId: (login.user as { id: string }).id };
}

/** Everything the bursts start from, made through the API: pool agents, a server with a backup, subscribers, a StreamSpace agent. */
export async function prepare(base: string, stripe: FakeStripe, agents: ReferenceAgent[], sim: (key: string) => SimAgent): Promise<CrashSetup> {
  const adminLogin = await must('admin login', callApi(base, 'POST', '/api/auth/login', undefined, { login: 'admin', password: crashAdminPassword }), 200);
  const admin = adminLogin.access_token as string;
  for (const [i, a] of agents.entries())
    await must('pool agent', callApi(base, 'POST', '/api/admin/agents', admin, { name: `crash-agent-${i}`, base_url: a.baseUrl, token: a.token, kind: 'any' }), 201);
  const server = (await must('server', callApi(base, 'POST', '/api/game/servers', admin, { name: 'restored' }), 202)).server as { id: string };
  const path = `/api/game/servers/${server.id}`;
  await eventually(async () => ((await callApi(base, 'GET', path, admin)).body.server as { state: { lifecycle: string } }).state.lifecycle === 'active', 30_000, 'the first server active');
  const backup = (await must('backup', callApi(base, 'POST', `${path}/backups`, admin, { name: 'first' }), 202)).backup as { id: string };
  await eventually(
    async () => ((await callApi(base, 'GET', `${path}/backups`, admin)).body.backups as Array<{ id: string; state: string }>).some((b) => b.id === backup.id && b.state === 'completed'),
    30_000,
    'the first backup completed',
  );
  const gamer = (await register(base, 'gamer')).token;
  const subscribers: CrashSetup['subscribers'] = [];
  for (let i = 0; i < 3; i += 1) {
    const user = await register(base, `subscriber-${i}`);
    const checkout = await must('checkout', callApi(base, 'POST', '/api/billing/checkout', user.token, { plan: 'starter' }), 200);
    const sub = stripe.completeCheckout(checkout.session_id as string);
    subscribers.push({ userId: user.userId, subscriptionId: sub.id, sessionId: checkout.session_id as string });
  }
  const v1 = (await must('v1 login', callApi(base, 'POST', '/api/v1/auth/login', undefined, { username: 'admin', password: crashAdminPassword }), 200)).token as string;
  const key = await must('agent key', callApi(base, 'POST', '/api/v1/admin/agent-keys', v1, { agent_id: 'crash-agent' }), 201);
  await sim(key.key as string).start();
  return { base, admin, gamer, serverId: server.id, backupId: backup.id, subscribers, v1, platform: 'crash' };
}
