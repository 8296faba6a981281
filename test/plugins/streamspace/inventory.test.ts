import test from 'ava';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { SimAgent } from '../../../scripts/lib/streamspace-sim-agent.ts';
import { commandLog, issueKey, rawAgent, uniq, waitAgent, type Frame, type RawAgent } from './raw-agent.ts';
import { call, startStreamspace, v1, v1Admin, waitFor, waitState, withAgent, type V1Session } from './ss-helpers.ts';

/** The helpers' heartbeat_interval_s: "within one heartbeat interval" is measured against it. */
const heartbeatMs = 2000;

let app: TestApp;
let admin: V1Session;

test.before(async () => {
  // A reconnect wait a little over one heartbeat interval: a stop for an agent that just went
  // away is accepted (it heartbeated within the wait) and times out within the test.
  app = await startStreamspace({}, { commands: { reconnect_wait_ms: heartbeatMs + 500 } });
  admin = await v1Admin(app);
});
test.after.always(async () => {
  await app.close();
});

const create = (platform: string, state: 'running' | 'hibernated' = 'running') => call(app, 'POST', `${v1}/sessions`, admin.token, { template: 'firefox-browser', platform, state });

const audited = async (sessionId: string): Promise<string[]> =>
  (await app.server.database.knex('audit_log').whereRaw(`details->>'session_id' = ?`, [sessionId]).orderBy('id').pluck('action')) as string[];

test('a simulator restarted without its sessions: they turn failed within one heartbeat interval, audited, and a delete then completes', async (t) => {
  const platform = uniq('restart');
  const key = await issueKey(app, admin, platform);
  const sim = () => new SimAgent({ url: app.url, agentId: platform, key, platform, commandDelayMs: 20 });
  const first = sim();
  await first.start();
  const id = (await create(platform)).body.id as string;
  await waitState(app, admin.token, id, 'running');
  await first.stop(); // its sessions end with it
  const restarted = sim();
  const since = Date.now();
  await restarted.start();
  {
    try {
      const failed = await waitState(app, admin.token, id, 'failed', heartbeatMs);
      t.true(Date.now() - since < heartbeatMs);
      t.is(failed.status.error_code, 'SESSION_LOST');
      t.regex(failed.status.message, /Delete it, or create a new session/);
      t.deepEqual(await waitFor('the audit entry', async () => ((await audited(id)).length > 0 ? audited(id) : null)), ['streamspace.session_reconciled_failed']);

      // The agent answers the stop with SESSION_NOT_FOUND: that is a done stop, not `failed`.
      t.is((await call(app, 'DELETE', `${v1}/sessions/${id}`, admin.token)).status, 204);
      const gone = await waitState(app, admin.token, id, 'terminated');
      t.is(gone.status.error_code, null);
      t.like((await commandLog(app, admin, id)).at(-1), { command_type: 'stop_session', status: 'failed' });
    } finally {
      await restarted.stop();
    }
  }
});

test('an agent that comes back still running a session terminated meanwhile gets a stop', async (t) => {
  await withAgent(app, admin, {}, async (agent, platform) => {
    const id = (await create(platform)).body.id as string;
    await waitState(app, admin.token, id, 'running');
    agent.drop();
    await waitAgent(app, admin, platform, (a) => a.status === 'offline', 'offline');
    // A graceful stop while the agent is away times out (reconnect_wait_ms): terminated here, still running there.
    t.is((await call(app, 'DELETE', `${v1}/sessions/${id}`, admin.token)).status, 204);
    const terminated = await waitState(app, admin.token, id, 'terminated', 10_000);
    t.regex(terminated.status.message, /without the agent's confirmation/);
    t.true(agent.sessions.has(id), 'the simulator still runs it');

    await agent.reconnect();
    await waitFor('the simulator to stop the session', async () => !agent.sessions.has(id), 5000);
    const stops = (await commandLog(app, admin, id)).filter((c) => c.command_type === 'stop_session');
    t.deepEqual(
      stops.map((c) => c.status),
      ['timed_out', 'completed'],
    );
    t.deepEqual(await audited(id), ['streamspace.session_reconciled_stop']);
    t.is((await waitState(app, admin.token, id, 'terminated')).state, 'terminated');
  });
});

/** A session on a raw agent, started (or created hibernated) by answering its start by hand. */
async function placed(agent: RawAgent, state: 'running' | 'hibernated'): Promise<string> {
  const id = (await create(agent.platform, state)).body.id as string;
  const start = (await agent.socket.waitFor((f) => (f as Frame).command_type === 'start_session' && (f as Frame).session_id === id, 5000, 'start_session')) as Frame;
  agent.send({ type: 'command_ack', command_id: start.command_id });
  agent.send({ type: 'command_result', command_id: start.command_id, status: 'completed', result: { vnc_port: 5901 } });
  await waitState(app, admin.token, id, state);
  return id;
}

test('heartbeat inventory: a running session the agent no longer lists fails, a hibernated one it runs is hibernated; no list changes nothing', async (t) => {
  const agent = await rawAgent(app, admin, { platform: uniq('inv'), keepAliveMs: 500 });
  try {
    const running = await placed(agent, 'running');
    const sleeping = await placed(agent, 'hibernated');
    // An older agent: heartbeats without `sessions` (keepAliveMs sends them) are treated as today.
    await new Promise((r) => setTimeout(r, 700));
    t.is((await waitState(app, admin.token, running, 'running')).state, 'running');

    agent.send({ type: 'heartbeat', agent_id: agent.agentId, capacity: { current_sessions: 1 }, sessions: [{ session_id: sleeping, state: 'running', vnc_port: 5902 }] });
    const hibernate = (await agent.socket.waitFor((f) => (f as Frame).command_type === 'hibernate_session' && (f as Frame).session_id === sleeping, heartbeatMs, 'hibernate_session')) as Frame;
    t.truthy(hibernate.command_id);
    const failed = await waitState(app, admin.token, running, 'failed', heartbeatMs);
    t.is(failed.status.error_code, 'SESSION_LOST');
    t.is((await waitState(app, admin.token, sleeping, 'hibernated')).state, 'hibernated', 'the hibernate changes nothing here');

    // The same list again sends no second hibernate while the first is in flight.
    agent.send({ type: 'heartbeat', agent_id: agent.agentId, sessions: [{ session_id: sleeping, state: 'running', vnc_port: 5902 }] });
    await new Promise((r) => setTimeout(r, 300));
    t.is(agent.commands().filter((c) => c.command_type === 'hibernate_session').length, 1);
    t.deepEqual(await audited(running), ['streamspace.session_reconciled_failed']);
    t.deepEqual(await audited(sleeping), ['streamspace.session_reconciled_hibernate']);
  } finally {
    await agent.close();
  }
});
