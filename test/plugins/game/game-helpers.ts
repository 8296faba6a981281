import type { DeepPartial } from '../../../src/config/load.ts';
import type { Config } from '../../../src/config/schema.ts';
import { gamePlugin } from '../../../plugins/game/index.ts';
import type { GameServer } from '../../../plugins/game/game-server.ts';
import type { Backup } from '../../../plugins/game/backup-store.ts';
import { startTestApp, type ApiEndpoint, type TestApp } from '../../helpers/start-test-app.ts';
import { bearer, json, type Session } from '../../helpers/auth.ts';
import { eventually } from '../../helpers/agent-core.ts';
import { openSocket, type RefusedUpgrade, type TestSocket } from '../../helpers/ws-client.ts';
import type { TestDatabase } from '../../helpers/test-database.ts';

/** Fast polls and a quick reconcile job, so state changes show within a second. */
export const gameTestConfig = (provisioner: 'local' | 'static', extra: DeepPartial<Config> = {}, game: Record<string, unknown> = {}): DeepPartial<Config> => ({
  provisioner,
  agents: {
    poll_interval_ms: 500,
    poll_timeout_ms: 1_000,
    poll_connect_timeout_ms: 500,
    action_timeout_ms: 3_000,
    max_backoff_ms: 2_000,
    provision_deadline_ms: provisioner === 'local' ? 30_000 : 4_000,
    breaker_cooldown_ms: 200,
  },
  plugins: { config: { game: { backups: { reconcile_every_ms: 500 }, ...game } } },
  ...extra,
});

export function startGameApp(config: DeepPartial<Config>, testDatabase?: TestDatabase): Promise<TestApp> {
  return startTestApp({ plugins: [gamePlugin], config, testDatabase });
}

export async function call(app: ApiEndpoint, session: Session, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const init: RequestInit = body === undefined ? { method } : { ...json(body), method };
  const res = await app.request(path, bearer(session.access_token, init));
  const text = await res.text();
  return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

export async function createServer(app: ApiEndpoint, session: Session, name = 'Test server', template?: string): Promise<GameServer> {
  const res = await call(app, session, 'POST', '/api/game/servers', { name, ...(template ? { template } : {}) });
  if (res.status !== 202) throw new Error(`creating a server answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body.server as GameServer;
}

export async function getServer(app: ApiEndpoint, session: Session, id: string): Promise<GameServer> {
  const res = await call(app, session, 'GET', `/api/game/servers/${id}`);
  if (res.status !== 200) throw new Error(`reading server ${id} answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body.server as GameServer;
}

export function waitForServer(app: ApiEndpoint, session: Session, id: string, check: (s: GameServer) => boolean, what: string, ms = 30_000): Promise<GameServer> {
  return eventually(
    async () => {
      const server = await getServer(app, session, id);
      return check(server) ? server : undefined;
    },
    ms,
    what,
  );
}

export async function listBackups(app: ApiEndpoint, session: Session, id: string): Promise<Backup[]> {
  const res = await call(app, session, 'GET', `/api/game/servers/${id}/backups`);
  if (res.status !== 200) throw new Error(`listing backups answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body.backups as Backup[];
}

/** Gets a console ticket and opens the socket with the panel's own Origin (or `origin`). */
export async function openConsole(app: ApiEndpoint, session: Session, id: string, origin = 'http://localhost:8080'): Promise<TestSocket | RefusedUpgrade> {
  const ticket = await call(app, session, 'POST', `/api/game/servers/${id}/console/ticket`);
  if (ticket.status !== 201) throw new Error(`console ticket answered ${ticket.status}: ${JSON.stringify(ticket.body)}`);
  return openSocket(consoleUrl(app, id, ticket.body.ticket as string), { Origin: origin });
}

export const consoleUrl = (app: ApiEndpoint, id: string, ticket: string): string => `${app.url.replace(/^http/, 'ws')}/api/game/servers/${id}/console?ticket=${encodeURIComponent(ticket)}`;

/** Deletes the server and waits until it is gone, so no agent outlives the test. */
export async function deleteAndWait(app: ApiEndpoint, session: Session, id: string, base = '/api/game/servers'): Promise<void> {
  const res = await call(app, session, 'DELETE', `${base}/${id}`);
  if (res.status !== 202 && res.status !== 404) throw new Error(`deleting ${id} answered ${res.status}`);
  await eventually(async () => (await call(app, session, 'GET', `${base}/${id}`)).status === 404, 30_000, 'the instance to be gone');
}

export { killLocalAgents } from '../../../src/core/instances/local-provisioner.ts';
