import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { call, startStreamspace, v1, v1Admin, v1User, waitFor, waitState, type V1Session } from './ss-helpers.ts';
import { connectDesktopAgent, environOf, pidsWith, processGroupOf, removeDesktopAgent, runningDesktop, sessionLogs } from './desktop-helpers.ts';
import { handshake, openViewer } from './vnc-viewer.ts';
import { isAlive, startTimeOf } from '../../../scripts/lib/desktop-processes.ts';

/**
 * The local desktop agent against real TigerVNC Xvnc and xterm (Debian packages; .ci/run
 * installs them): what a session is on the machine, and what hibernate, wake, delete, a crash
 * and an agent restart do to it.
 */
let app: TestApp;
let admin: V1Session;
test.before(async () => {
  app = await startStreamspace({}, { state_wait_ms: 15_000 });
  admin = await v1Admin(app);
});
test.after.always(async () => {
  await app?.close();
});

const desktopOf = (agent: { desktops: { snapshot(): Map<string, { state: string; port: number | null; home: string }> } }, id: string) => agent.desktops.snapshot().get(id);

test.serial(
  'a session is a real Xvnc on 127.0.0.1 and the template command in its display, with its own home, a minimal environment and its own process group; viewers get its RFB through the relay',
  async (t) => {
    const { agent, agentId, dataDir } = await connectDesktopAgent(app, admin);
    try {
      const user = await v1User(app, admin);
      const session = await runningDesktop(app, user.token, agentId);
      const local = desktopOf(agent, session.id);
      t.is(local?.state, 'running');
      const port = local?.port as number;
      t.true(port > 0);
      t.is(local?.home, join(dataDir, 'sessions', session.id, 'home'));

      const [xvnc] = pidsWith(`-rfbport ${port} `);
      t.truthy(xvnc, 'an Xvnc listens on the port the result reported');
      const xvncArgs = (await import('node:fs')).readFileSync(`/proc/${xvnc}/cmdline`, 'utf8').split('\0');
      t.true(xvncArgs[0]?.endsWith('Xvnc'));
      t.deepEqual(xvncArgs.slice(xvncArgs.indexOf('-interface'), xvncArgs.indexOf('-interface') + 2), ['-interface', '127.0.0.1']);
      t.deepEqual(xvncArgs.slice(xvncArgs.indexOf('-geometry'), xvncArgs.indexOf('-geometry') + 2), ['-geometry', '1280x800']);
      const display = xvncArgs[1] as string;
      const [xterm] = pidsWith('xterm -fa Monospace').filter((pid) => environOf(pid).DISPLAY === display);
      t.truthy(xterm, 'xterm runs in the session display');
      const env = environOf(xterm as number);
      t.is(env.HOME, local?.home);
      t.is(env.STREAMSPACE_AGENT_KEY, undefined, 'no secret of the agent');
      t.true(Object.keys(env).length <= 10, `a minimal environment: ${Object.keys(env).join(', ')}`);
      t.is(processGroupOf(xterm as number), xterm as number, 'its own process group');
      t.not(processGroupOf(xvnc as number), process.pid);

      const viewer = await openViewer(app.url, session.id, user.token);
      await handshake(viewer);
      // Security types from a real RFB 3.8 server: one type, None (1).
      const types = await viewer.waitBytes(14);
      t.deepEqual([...types.subarray(12, 14)], [1, 1]);
      viewer.ws.close();

      const logs = await sessionLogs(app, user.token, session.id);
      t.true(
        logs.some((l) => l.includes('vncext:')),
        "Xvnc's own lines are in the session logs",
      );
      t.true(
        logs.some((l) => l.includes('Xvnc accepts RFB connections')),
        "and the agent's",
      );
    } finally {
      await removeDesktopAgent(agent, dataDir);
    }
  },
);

test.serial('hibernate stops the processes and keeps the home; wake starts them on the same home; delete removes the home (kept when persistent_home)', async (t) => {
  const { agent, agentId, dataDir } = await connectDesktopAgent(app, admin);
  try {
    const user = await v1User(app, admin);
    const session = await runningDesktop(app, user.token, agentId);
    const home = desktopOf(agent, session.id)?.home as string;
    writeFileSync(join(home, 'notes.txt'), 'kept');
    const port = desktopOf(agent, session.id)?.port as number;

    t.is((await call(app, 'PATCH', `${v1}/sessions/${session.id}`, user.token, { state: 'hibernated' })).status, 200);
    t.deepEqual(pidsWith(`-rfbport ${port} `), [], 'Xvnc is gone');
    t.true(existsSync(join(home, 'notes.txt')));

    const woke = await call(app, 'PATCH', `${v1}/sessions/${session.id}`, user.token, { state: 'running' });
    t.is(woke.status, 200);
    t.is(woke.body.state, 'running');
    const viewer = await openViewer(app.url, session.id, user.token);
    await handshake(viewer);
    viewer.ws.close();
    t.true(existsSync(join(home, 'notes.txt')), 'the same home');

    t.is((await call(app, 'DELETE', `${v1}/sessions/${session.id}`, user.token)).status, 204);
    await waitState(app, user.token, session.id, 'terminated', 15_000);
    t.false(existsSync(join(dataDir, 'sessions', session.id)), 'the home is removed');

    const kept = await runningDesktop(app, user.token, agentId, { persistent_home: true });
    const keptHome = desktopOf(agent, kept.id)?.home as string;
    t.is((await call(app, 'DELETE', `${v1}/sessions/${kept.id}`, user.token)).status, 204);
    await waitState(app, user.token, kept.id, 'terminated', 15_000);
    t.true(existsSync(keptHome), 'a persistent home stays');
    t.false(existsSync(join(dataDir, 'sessions', kept.id, 'session.json')), 'but the session is gone from the agent');
  } finally {
    await removeDesktopAgent(agent, dataDir);
  }
});

test.serial('a killed Xvnc fails the session with the reason, in its status and its logs', async (t) => {
  const { agent, agentId, dataDir } = await connectDesktopAgent(app, admin);
  try {
    const user = await v1User(app, admin);
    const session = await runningDesktop(app, user.token, agentId);
    const [xvnc] = pidsWith(`-rfbport ${desktopOf(agent, session.id)?.port as number} `);
    process.kill(xvnc as number, 'SIGKILL');
    const failed = await waitState(app, user.token, session.id, 'failed', 10_000);
    t.regex(failed.status.message, /Xvnc \(display :\d+\) ended unexpectedly/);
    t.is(failed.status.error_code, 'SESSION_CRASHED');
    const logs = await sessionLogs(app, user.token, session.id);
    t.true(logs.some((l) => /session failed: Xvnc .* ended unexpectedly/.test(l)));
    t.deepEqual(
      pidsWith(`xterm -fa`).filter((pid) => environOf(pid).HOME === desktopOf(agent, session.id)?.home),
      [],
      'its xterm is stopped too',
    );
  } finally {
    await removeDesktopAgent(agent, dataDir);
  }
});

test.serial('an agent restart adopts the running desktops (one Xvnc, the same port) and reports the one that ended meanwhile as hibernated; it wakes again', async (t) => {
  const first = await connectDesktopAgent(app, admin);
  t.teardown(() => first.agent.desktops.close(true));
  const user = await v1User(app, admin);
  const live = await runningDesktop(app, user.token, first.agentId);
  const gone = await runningDesktop(app, user.token, first.agentId);
  const livePort = desktopOf(first.agent, live.id)?.port as number;
  const [goneXvnc] = pidsWith(`-rfbport ${desktopOf(first.agent, gone.id)?.port as number} `);
  await first.agent.stop(); // the desktops keep running
  process.kill(goneXvnc as number, 'SIGKILL');
  await waitFor('the killed Xvnc to be gone', async () => !isAlive({ pid: goneXvnc as number, startTime: startTimeOf(goneXvnc as number) ?? '' }));

  const second = await connectDesktopAgent(app, admin, { agentId: first.agentId, dataDir: first.dataDir, key: first.key });
  try {
    t.is(desktopOf(second.agent, live.id)?.state, 'running');
    t.is(desktopOf(second.agent, live.id)?.port, livePort);
    t.is(pidsWith(`-rfbport ${livePort} `).length, 1, 'one Xvnc, not a second');
    const viewer = await openViewer(app.url, live.id, user.token);
    await handshake(viewer);
    viewer.ws.close();
    const stopped = await waitState(app, user.token, gone.id, 'hibernated', 10_000);
    t.regex(stopped.status.message, /not running when the agent started again/);
    t.is((await call(app, 'PATCH', `${v1}/sessions/${gone.id}`, user.token, { state: 'running' })).status, 200);
  } finally {
    await removeDesktopAgent(second.agent, second.dataDir);
  }
});

test.serial('--max-sessions is enforced; a template without a local section or with a missing program is refused with a clear error', async (t) => {
  const { agent, agentId, dataDir } = await connectDesktopAgent(app, admin, { maxSessions: 1 });
  try {
    const user = await v1User(app, admin);
    const first = await runningDesktop(app, user.token, agentId);
    const second = await call(app, 'POST', `${v1}/sessions`, user.token, { template: 'xterm-desktop', platform: 'local', region: agentId });
    // The heartbeat has not told the count yet: the agent itself refuses.
    if (second.status === 202) {
      const failed = await waitState(app, user.token, second.body.id, 'failed', 10_000);
      t.regex(failed.status.message, /max_sessions \(1\)/);
    } else t.is(second.body.code, 'AGENT_CAPACITY_EXCEEDED');

    const container = await call(app, 'POST', `${v1}/sessions`, user.token, { template: 'firefox-browser', platform: 'local', region: agentId });
    t.is(container.status, 400);
    t.is(container.body.code, 'TEMPLATE_NOT_SUPPORTED');

    const made = await call(app, 'POST', `${v1}/templates`, admin.token, {
      name: `no-such-program-${process.pid}`,
      display_name: 'Missing',
      category: 'Desktops',
      base_image: 'x',
      default_resources: { memory: '1Gi', cpu: '1' },
      vnc: { enabled: true, port: 5900 },
      local: { command: 'no-such-program-here', packages: [] },
    });
    t.is(made.status, 201, JSON.stringify(made.body));
    t.is((await call(app, 'DELETE', `${v1}/sessions/${first.id}`, user.token)).status, 204);
    await waitState(app, user.token, first.id, 'terminated', 15_000);
    const missing = await call(app, 'POST', `${v1}/sessions`, user.token, { template: made.body.name, platform: 'local', region: agentId });
    t.is(missing.status, 202);
    const refused = await waitState(app, user.token, missing.body.id, 'failed', 10_000);
    t.regex(refused.status.message, /cannot run template 'no-such-program-\d+': 'no-such-program-here' is not on the agent's PATH/);
    t.is(refused.status.error_code, 'TEMPLATE_NOT_SUPPORTED');
  } finally {
    await removeDesktopAgent(agent, dataDir);
  }
});
