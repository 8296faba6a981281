import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, testEngine, type TestDatabase } from '../helpers/test-database.ts';
import { spawnServer, type ServerProcess } from '../helpers/spawn-server.ts';
import { startFakeAgents } from '../fakes/fake-agents.ts';
import { bearer, json } from '../helpers/auth.ts';
import { eventually } from '../helpers/agent-core.ts';

test(`provisioning interrupted by killing the API (SIGKILL) is resumed by the next start (${testEngine})`, async (t) => {
  const fakes = await startFakeAgents();
  const dataDir = mkdtempSync(join(tmpdir(), 'panel-crash-'));
  const db: TestDatabase | null = testEngine === 'postgres' ? await createTestDatabase() : null;
  let server: ServerProcess | null = null;
  t.teardown(async () => {
    server?.child.kill('SIGKILL');
    await db?.drop();
    await fakes.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const env = {
    DATA_DIR: dataDir,
    ...(db?.url ? { DATABASE_URL: db.url } : {}),
    PLUGINS: 'example',
    PANEL_RATE_LIMITS: '{"example_test": {"limit": 100, "window_s": 60}}',
    PROVISIONER: 'static',
    ADMIN_PASSWORD: 'crash-test-admin-1',
    PANEL_AGENTS_WORK_LEASE_MS: '2000',
    PANEL_AGENTS_PROVISION_DEADLINE_MS: '60000',
    PANEL_AGENTS_POLL_INTERVAL_MS: '1000',
  };
  server = await spawnServer('test/fixtures/serve-example.ts', env);
  const base = server.url;
  const login = await fetch(`${base}/api/auth/login`, json({ login: 'admin', password: 'crash-test-admin-1' }));
  const { access_token: token } = (await login.json()) as { access_token: string };
  const agent = fakes.add({ fault: { mode: 'normal' } });
  t.is((await fetch(`${base}/api/admin/agents`, bearer(token, json({ name: 'a', base_url: agent.baseUrl, token: agent.token })))).status, 201);
  fakes.setFault(agent.id, { mode: 'not_ready', reason: 'installing' });
  const created = await fetch(`${base}/api/example/instances`, bearer(token, json({ name: 'interrupted' })));
  t.is(created.status, 202);
  const { id } = (await created.json()) as { id: string };

  server.child.kill('SIGKILL');
  await server.exited;
  fakes.setFault(agent.id, { mode: 'normal' });

  server = await spawnServer('test/fixtures/serve-example.ts', env);
  const restarted = server.url;
  const relogin = (await (await fetch(`${restarted}/api/auth/login`, json({ login: 'admin', password: 'crash-test-admin-1' }))).json()) as { access_token: string };
  const state = await eventually(
    async () => {
      const res = await fetch(`${restarted}/api/example/instances/${id}`, bearer(relogin.access_token));
      const body = (await res.json()) as { state: { lifecycle: string; ready: boolean } };
      return body.state.lifecycle === 'active' ? body.state : undefined;
    },
    20_000,
    'the resumed instance to become active',
  );
  t.true(state.ready);
});
