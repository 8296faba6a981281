import { request, type IncomingHttpHeaders } from 'node:http';
import type { DeepPartial } from '../../../src/config/load.ts';
import type { Config } from '../../../src/config/schema.ts';
import { devPlugin } from '../../../plugins/dev/index.ts';
import type { DevContainer } from '../../../plugins/dev/dev-container.ts';
import { startTestApp, type TestApp } from '../../helpers/start-test-app.ts';
import type { Session } from '../../helpers/auth.ts';
import { eventually } from '../../helpers/agent-core.ts';
import { call } from '../game/game-helpers.ts';

export { call };

/** Local agents with the IDE stand-in, fast polls; IDE URLs over http on the test's port-less hosts (port 80, not PUBLIC_URL's). */
export const devTestConfig = (provisioner: 'local' | 'static', extra: DeepPartial<Config> = {}, dev: Record<string, unknown> = {}): DeepPartial<Config> => ({
  provisioner,
  agents: {
    poll_interval_ms: 500,
    poll_timeout_ms: 1_000,
    poll_connect_timeout_ms: 500,
    action_timeout_ms: 5_000,
    max_backoff_ms: 2_000,
    provision_deadline_ms: provisioner === 'local' ? 30_000 : 4_000,
    breaker_cooldown_ms: 200,
  },
  ide: { suffix: 'ide.test', scheme: 'http', return_hosted_url: true, path_mode_enabled: true, path_mode_host: null, public_port: 80 },
  billing: { plans: [{ id: 'free', name: 'Free', price_id: null, amount: 0, currency: 'usd', limits: { game_servers: 2, dev_containers: 5, backups_per_server: 100 } }], default_plan: 'free' },
  plugins: { config: { dev: { socket_recheck_ms: 500, ...dev } } },
  ...extra,
});

export function startDevApp(config: DeepPartial<Config>): Promise<TestApp> {
  return startTestApp({ plugins: [devPlugin], config });
}

export async function createContainer(app: TestApp, session: Session, name = 'Dev box'): Promise<DevContainer> {
  const res = await call(app, session, 'POST', '/api/dev', { name });
  if (res.status !== 202) throw new Error(`creating a container answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body.container as DevContainer;
}

export async function getContainer(app: TestApp, session: Session, id: string): Promise<DevContainer> {
  const res = await call(app, session, 'GET', `/api/dev/${id}`);
  if (res.status !== 200) throw new Error(`reading container ${id} answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body.container as DevContainer;
}

export function waitForContainer(app: TestApp, session: Session, id: string, check: (c: DevContainer) => boolean, what: string, ms = 30_000): Promise<DevContainer> {
  return eventually(
    async () => {
      const c = await getContainer(app, session, id);
      return check(c) ? c : undefined;
    },
    ms,
    what,
  );
}

/** A container that is active with its IDE running. */
export async function readyContainer(app: TestApp, session: Session, name?: string): Promise<DevContainer> {
  const created = await createContainer(app, session, name);
  await waitForContainer(app, session, created.id, (c) => c.state.lifecycle === 'active', 'active');
  const started = await call(app, session, 'POST', `/api/dev/${created.id}/codeserver/start`);
  if (started.status !== 202) throw new Error(`codeserver start answered ${started.status}: ${JSON.stringify(started.body)}`);
  return waitForContainer(app, session, created.id, (c) => c.codeserver.state === 'running', 'the IDE running');
}

export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A request to the API's port with a Host of our choosing (fetch cannot set Host). */
export function ideRequest(app: TestApp, host: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<RawAnswer> {
  const url = new URL(app.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method, headers: { Host: host, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

export async function ideLink(app: TestApp, session: Session, id: string): Promise<{ token: string; url: string; expires_at: string }> {
  const res = await call(app, session, 'POST', `/api/dev/${id}/ide-token`);
  if (res.status !== 201) throw new Error(`ide-token answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body as { token: string; url: string; expires_at: string };
}

/** Follows an IDE link: the token is spent, and the cookie comes back as `name=value`. */
export async function openIde(app: TestApp, session: Session, id: string): Promise<{ cookie: string; host: string; path: string; answer: RawAnswer }> {
  const link = new URL((await ideLink(app, session, id)).url);
  const answer = await ideRequest(app, link.host, `${link.pathname}${link.search}`);
  const setCookie = answer.headers['set-cookie']?.[0] ?? '';
  return { cookie: setCookie.split(';')[0] ?? '', host: link.host, path: link.pathname, answer };
}
