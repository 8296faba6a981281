import test from 'ava';
import { randomUUID } from 'node:crypto';
import type { SimAgent, SimAgentOptions } from '../../../scripts/lib/streamspace-sim-agent.ts';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { call, connectAgent, startV1App, v1, v1User, waitFor, waitState, type V1Session } from './ss-helpers.ts';
import { assertError } from './error-envelope.ts';

/** Seed "Error Codes": the codes a client meets on agents and sessions, provoked through the real API with simulated agents. */
let app: TestApp;
let admin: V1Session;

test.before(async () => {
  ({ app, admin } = await startV1App());
});
test.after.always(() => app?.close());

let agents = 0;
interface OwnAgent {
  agent: SimAgent;
  agentId: string;
  region: string;
}
/** Runs `body` with an agent of its own, in a region of its own (placement never mixes tests), and always stops it. */
async function withAgent(options: Partial<SimAgentOptions>, body: (own: OwnAgent) => Promise<void>): Promise<void> {
  agents += 1;
  const agentId = `ec-${process.pid}-${agents}`;
  const region = `r-${agentId}`;
  const agent = await connectAgent(app, admin, { agentId, region, ...options });
  try {
    await body({ agent, agentId, region });
  } finally {
    await agent.stop();
  }
}

async function createSession(who: V1Session, region: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await call(app, 'POST', `${v1}/sessions`, who.token, { template: 'firefox-browser', region, ...extra });
  if (res.status !== 202) throw new Error(`create session: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id as string;
}

test('a non-admin gets 403 AUTH_INSUFFICIENT_PERMISSIONS on users, agents and forced termination', async (t) => {
  await withAgent({}, async ({ region }) => {
    const user = await v1User(app, admin);
    assertError(t, await call(app, 'GET', `${v1}/users`, user.token), 403, 'AUTH_INSUFFICIENT_PERMISSIONS');
    assertError(t, await call(app, 'GET', `${v1}/agents`, user.token), 403, 'AUTH_INSUFFICIENT_PERMISSIONS');
    assertError(t, await call(app, 'GET', `${v1}/agents/stats`, user.token), 403, 'AUTH_INSUFFICIENT_PERMISSIONS');
    const id = await createSession(user, region);
    assertError(t, await call(app, 'PATCH', `${v1}/sessions/${id}`, user.token, { state: 'terminated' }), 403, 'AUTH_INSUFFICIENT_PERMISSIONS');
  });
});

test('an unknown agent id answers 404 AGENT_NOT_FOUND', async (t) => {
  const id = `no-such-agent-${process.pid}`;
  assertError(t, await call(app, 'GET', `${v1}/agents/${id}`, admin.token), 404, 'AGENT_NOT_FOUND');
  assertError(t, await call(app, 'PATCH', `${v1}/agents/${id}`, admin.token, { status: 'draining' }), 404, 'AGENT_NOT_FOUND');
  assertError(t, await call(app, 'DELETE', `${v1}/admin/agent-keys/${id}`, admin.token), 404, 'AGENT_NOT_FOUND');
});

test('reading the logs of a session whose agent has gone answers 503 AGENT_OFFLINE', async (t) => {
  await withAgent({}, async ({ agent, agentId, region }) => {
    const user = await v1User(app, admin);
    const id = await createSession(user, region);
    await waitState(app, user.token, id, 'running');
    t.is((await call(app, 'GET', `${v1}/sessions/${id}/logs`, user.token)).status, 200, 'logs are readable while the agent is there');
    await agent.stop();
    await waitFor('the agent to show offline', async () => (await call(app, 'GET', `${v1}/agents/${agentId}`, admin.token)).body?.status === 'offline');
    assertError(t, await call(app, 'GET', `${v1}/sessions/${id}/logs`, user.token), 503, 'AGENT_OFFLINE');
  });
});

test('creating a session with no agent in reach, or only draining ones, answers 503 NO_AGENTS_AVAILABLE', async (t) => {
  const user = await v1User(app, admin);
  assertError(t, await call(app, 'POST', `${v1}/sessions`, user.token, { template: 'firefox-browser', region: `empty-${process.pid}` }), 503, 'NO_AGENTS_AVAILABLE');
  await withAgent({}, async ({ agentId, region }) => {
    t.is((await call(app, 'PATCH', `${v1}/agents/${agentId}`, admin.token, { status: 'draining' })).status, 200);
    assertError(t, await call(app, 'POST', `${v1}/sessions`, user.token, { template: 'firefox-browser', region }), 503, 'NO_AGENTS_AVAILABLE');
  });
});

test('creating a session when every agent is at max_sessions answers 503 AGENT_CAPACITY_EXCEEDED', async (t) => {
  await withAgent({ maxSessions: 1 }, async ({ region }) => {
    const user = await v1User(app, admin);
    await createSession(user, region);
    assertError(t, await call(app, 'POST', `${v1}/sessions`, user.token, { template: 'firefox-browser', region }), 503, 'AGENT_CAPACITY_EXCEEDED');
  });
});

test("an unknown session, or another user's, answers 404 SESSION_NOT_FOUND on every route", async (t) => {
  await withAgent({}, async ({ region }) => {
    const owner = await v1User(app, admin);
    const stranger = await v1User(app, admin);
    const theirs = await createSession(owner, region);
    for (const id of [randomUUID(), theirs]) {
      assertError(t, await call(app, 'GET', `${v1}/sessions/${id}`, stranger.token), 404, 'SESSION_NOT_FOUND');
      assertError(t, await call(app, 'PATCH', `${v1}/sessions/${id}`, stranger.token, { state: 'hibernated' }), 404, 'SESSION_NOT_FOUND');
      assertError(t, await call(app, 'DELETE', `${v1}/sessions/${id}`, stranger.token), 404, 'SESSION_NOT_FOUND');
      assertError(t, await call(app, 'GET', `${v1}/sessions/${id}/logs`, stranger.token), 404, 'SESSION_NOT_FOUND');
    }
  });
});

test('a second live session with the same name answers 409 SESSION_ALREADY_EXISTS', async (t) => {
  await withAgent({}, async ({ region }) => {
    const user = await v1User(app, admin);
    const name = `ec-dup-${process.pid}`;
    await createSession(user, region, { name });
    assertError(t, await call(app, 'POST', `${v1}/sessions`, user.token, { template: 'firefox-browser', region, name }), 409, 'SESSION_ALREADY_EXISTS');
  });
});

test('an impossible state change answers 400 INVALID_STATE_TRANSITION', async (t) => {
  await withAgent({}, async ({ region }) => {
    const user = await v1User(app, admin);
    const id = await createSession(user, region);
    await waitState(app, user.token, id, 'running');
    assertError(t, await call(app, 'PATCH', `${v1}/sessions/${id}`, user.token, { state: 'pending' }), 400, 'INVALID_STATE_TRANSITION');
    t.is((await call(app, 'PATCH', `${v1}/sessions/${id}`, admin.token, { state: 'terminated' })).status, 200);
    assertError(t, await call(app, 'PATCH', `${v1}/sessions/${id}`, user.token, { state: 'running' }), 400, 'INVALID_STATE_TRANSITION');
  });
});

test('a wake the agent fails answers 500 SESSION_PROVISIONING_FAILED and the session stays hibernated', async (t) => {
  await withAgent({ failCommands: ['wake_session'] }, async ({ region }) => {
    const user = await v1User(app, admin);
    const id = await createSession(user, region, { state: 'hibernated' });
    await waitState(app, user.token, id, 'hibernated');
    assertError(t, await call(app, 'PATCH', `${v1}/sessions/${id}`, user.token, { state: 'running' }), 500, 'SESSION_PROVISIONING_FAILED');
    t.is((await call(app, 'GET', `${v1}/sessions/${id}`, user.token)).body.state, 'hibernated');
  });
});

test('deleting a session that is still terminating answers 409 SESSION_TERMINATING', async (t) => {
  await withAgent({ commandDelayMs: 3000 }, async ({ region }) => {
    const user = await v1User(app, admin);
    const id = await createSession(user, region);
    await waitState(app, user.token, id, 'running');
    t.is((await call(app, 'DELETE', `${v1}/sessions/${id}`, user.token)).status, 204);
    assertError(t, await call(app, 'DELETE', `${v1}/sessions/${id}`, user.token), 409, 'SESSION_TERMINATING');
  });
});
