import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import test from 'ava';
import { call, startStreamspace, v1, v1Admin, v1Login } from './ss-helpers.ts';
import { handshake, openViewer } from './vnc-viewer.ts';

/** The simulated agent as an operator runs it: a child process of the CLI. */
function startAgentProcess(url: string, agentId: string, key: string): Promise<{ child: ChildProcess; lines: string[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/streamspace-agent.ts', '--url', url, '--agent-id', agentId, '--delay-ms', '30', '--platform', 'docker'], {
    env: { ...process.env, STREAMSPACE_AGENT_KEY: key },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent did not register: ${lines.join('\n')}`)), 20_000);
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      lines.push(line);
      if (line.includes('"registered"')) {
        clearTimeout(timer);
        resolve({ child, lines });
      }
    });
    child.once('exit', (code) => reject(new Error(`agent exited with ${code}: ${lines.join('\n')}`)));
  });
}

test('the seed\'s "Complete Session Lifecycle" script works against a running server with the simulated agent', async (t) => {
  const app = await startStreamspace();
  let agent: ChildProcess | null = null;
  try {
    const admin = await v1Admin(app);
    const john = await call(app, 'POST', `${v1}/users`, admin.token, { username: 'john.doe', email: 'john.doe@example.com', password: 'john-password-123', role: 'user' });
    t.is(john.status, 201);
    const key = await call(app, 'POST', `${v1}/admin/agent-keys`, admin.token, { agent_id: 'docker-host-01' });
    agent = (await startAgentProcess(app.url, 'docker-host-01', key.body.key)).child;

    // 1. Login and get token
    const login = await call(app, 'POST', `${v1}/auth/login`, undefined, { username: 'admin', password: 'admin-password-for-tests' });
    t.is(login.status, 200);
    const token = login.body.token as string;
    t.true(Date.parse(login.body.expires_at) - Date.now() > 23 * 3600_000, 'a 24-hour token');
    t.is(login.body.user.role, 'admin');

    // 2. List available templates
    const templates = await call(app, 'GET', `${v1}/templates`, token);
    t.is(templates.status, 200);
    t.true((templates.body.templates as Array<{ name: string }>).some((x) => x.name === 'firefox-browser'));

    // 3. Create a session (for john.doe, as the script does)
    const created = await call(app, 'POST', `${v1}/sessions`, token, { user: 'john.doe', template: 'firefox-browser', state: 'running', resources: { memory: '2Gi', cpu: '1000m' } });
    t.is(created.status, 202);
    t.is(created.body.state, 'pending');
    t.is(created.body.user, 'john.doe');
    t.is(created.body.agent_id, 'docker-host-01');
    const id = created.body.id as string;

    // 4. Wait for session to be running (poll every 200 ms)
    let state = '';
    for (let i = 0; i < 100 && state !== 'running'; i += 1) {
      state = (await call(app, 'GET', `${v1}/sessions/${id}`, token)).body.state as string;
      if (state !== 'running') await new Promise((r) => setTimeout(r, 200));
    }
    t.is(state, 'running');

    // 5. Get VNC URL, and check it really opens the session's VNC server
    const detail = await call(app, 'GET', `${v1}/sessions/${id}`, token);
    t.is(detail.body.status.vnc_url, `/vnc-viewer/${id}`);
    t.is(detail.body.status.phase, 'Running');
    const viewer = await openViewer(app.url, id, token);
    await handshake(viewer);
    viewer.ws.close();

    // 6. Hibernate session
    const hibernated = await call(app, 'PATCH', `${v1}/sessions/${id}`, token, { state: 'hibernated' });
    t.is(hibernated.status, 200);
    t.is(hibernated.body.state, 'hibernated');
    t.is(hibernated.body.status.phase, 'Hibernated');

    // 7. Wake session
    const woken = await call(app, 'PATCH', `${v1}/sessions/${id}`, token, { state: 'running' });
    t.is(woken.status, 200);
    t.is(woken.body.state, 'running');

    // 8. Terminate session
    const deleted = await call(app, 'DELETE', `${v1}/sessions/${id}`, token);
    t.is(deleted.status, 204);
    let final = '';
    for (let i = 0; i < 100 && final !== 'terminated'; i += 1) {
      final = (await call(app, 'GET', `${v1}/sessions/${id}`, token)).body.state as string;
      if (final !== 'terminated') await new Promise((r) => setTimeout(r, 100));
    }
    t.is(final, 'terminated');

    // 9. Logout: the token no longer works
    const logout = await call(app, 'POST', `${v1}/auth/logout`, token);
    t.is(logout.status, 200);
    t.deepEqual(logout.body, { message: 'Logout successful' });
    const after = await call(app, 'GET', `${v1}/sessions/${id}`, token);
    t.is(after.status, 401);
    t.is(after.body.code, 'AUTH_TOKEN_INVALID');

    // john.doe sees his session; the commands it took are in the log.
    const johnSession = await v1Login(app, 'john.doe', 'john-password-123');
    t.is((await call(app, 'GET', `${v1}/sessions?state=terminated`, johnSession.token)).body.sessions.length, 1);
    const log = await call(app, 'GET', `${v1}/sessions/${id}/commands`, (await v1Admin(app)).token);
    t.deepEqual(
      (log.body.commands as Array<{ command_type: string; status: string }>).map((c) => `${c.command_type}:${c.status}`),
      ['start_session:completed', 'hibernate_session:completed', 'wake_session:completed', 'stop_session:completed'],
    );
  } finally {
    agent?.kill('SIGTERM');
    await app.close();
  }
});
