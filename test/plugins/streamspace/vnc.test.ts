import { createHash, randomBytes } from 'node:crypto';
import test from 'ava';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { bearer, loginAdmin } from '../../helpers/auth.ts';
import { runJob } from '../../helpers/run-job.ts';
import { call, startStreamspace, v1, v1Admin, v1User, waitFor, waitState, withAgent, type V1Session } from './ss-helpers.ts';
import { handshake, isPattern, openViewer, pump, rfbVersion } from './vnc-viewer.ts';

let app: TestApp;
let admin: V1Session;

test.before(async () => {
  app = await startStreamspace();
  admin = await v1Admin(app);
});
test.after.always(async () => {
  await app.close();
});

async function runningSession(token: string, agentId: string): Promise<string> {
  const created = await call(app, 'POST', `${v1}/sessions`, token, { template: 'firefox-browser', platform: agentId });
  if (created.status !== 202) throw new Error(`create: ${created.status} ${JSON.stringify(created.body)}`);
  await waitState(app, token, created.body.id as string, 'running');
  return created.body.id as string;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

test("all 256 byte values sent by a viewer reach the session's VNC server and come back unchanged, as binary frames", async (t) => {
  await withAgent(app, admin, {}, async (agent, agentId) => {
    const user = await v1User(app, admin);
    const id = await runningSession(user.token, agentId);
    const viewer = await openViewer(app.url, id, user.token);
    await handshake(viewer);
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    viewer.ws.send(all, { binary: true });
    const got = await viewer.waitBytes(rfbVersion.length + 256);
    t.true(got.subarray(rfbVersion.length).equals(all));
    t.true(viewer.allBinary());
    viewer.ws.close();
  });
});

test('two sessions on one agent streamed at once arrive intact (4 MiB each way, past the 1 MiB window; checksums)', async (t) => {
  await withAgent(app, admin, {}, async (agent, agentId) => {
    const user = await v1User(app, admin);
    const [a, b] = await Promise.all([runningSession(user.token, agentId), runningSession(user.token, agentId)]);
    const viewers = await Promise.all([openViewer(app.url, a, user.token), openViewer(app.url, b, user.token)]);
    await Promise.all(viewers.map(handshake));
    const payloads = [randomBytes(4 * 1024 * 1024), randomBytes(4 * 1024 * 1024)];
    await Promise.all(viewers.map((v, i) => pump(v, payloads[i] as Buffer)));
    const echoed = await Promise.all(viewers.map((v, i) => v.waitBytes(rfbVersion.length + (payloads[i] as Buffer).length, 30_000)));
    echoed.forEach((got, i) => t.is(sha(got.subarray(rfbVersion.length)), sha(payloads[i] as Buffer), `session ${i} intact`));
    for (const v of viewers) v.ws.close();
  });
});

test('a slow viewer slows only its own stream: another session on the same agent keeps flowing, and the slow one later gets every byte in order', async (t) => {
  await withAgent(app, admin, { mode: 'pattern' }, async (agent, agentId) => {
    const user = await v1User(app, admin);
    const [slowId, fastId] = await Promise.all([runningSession(user.token, agentId), runningSession(user.token, agentId)]);
    const slow = await openViewer(app.url, slowId, user.token);
    await handshake(slow);
    slow.ws.pause();
    const fast = await openViewer(app.url, fastId, user.token);
    await handshake(fast);
    const want = rfbVersion.length + 8 * 1024 * 1024;
    const got = await fast.waitBytes(want, 30_000);
    t.true(got.length >= want, 'the fast viewer received 8 MiB while the slow one read nothing');
    slow.ws.resume();
    const slowGot = await slow.waitBytes(rfbVersion.length + 2 * 1024 * 1024, 30_000);
    const pattern = slowGot.subarray(rfbVersion.length);
    t.true(isPattern(pattern), 'no byte dropped or reordered in the slow stream');
    slow.ws.close();
    fast.ws.close();
  });
});

test('closing either end closes the other; a viewer can reconnect, and view again after hibernate and wake', async (t) => {
  await withAgent(app, admin, {}, async (agent, agentId) => {
    const user = await v1User(app, admin);
    const id = await runningSession(user.token, agentId);
    const first = await openViewer(app.url, id, user.token);
    await handshake(first);
    first.ws.close();
    // The agent's connection to the VNC server closed with it (its log says so).
    await waitFor('the agent to see the viewer go', async () => {
      const logs = await call(app, 'GET', `${v1}/sessions/${id}/logs?tail=50&timestamps=false`, user.token);
      return (logs.body.logs as string[]).some((l) => /disconnected|closed/i.test(l));
    });
    const second = await openViewer(app.url, id, user.token);
    await handshake(second);
    second.ws.send(Buffer.from('again'), { binary: true });
    t.is((await second.waitBytes(rfbVersion.length + 5)).subarray(rfbVersion.length).toString(), 'again');
    // The session leaving running ends the stream from the control plane's side.
    t.is((await call(app, 'PATCH', `${v1}/sessions/${id}`, user.token, { state: 'hibernated' })).status, 200);
    const closed = await second.closed;
    t.true(closed.code === 1000 || closed.code === 1011);
    await t.throwsAsync(openViewer(app.url, id, user.token), { message: 'HTTP 409 SESSION_NOT_RUNNING' });
    t.is((await call(app, 'PATCH', `${v1}/sessions/${id}`, user.token, { state: 'running' })).status, 200);
    const afterWake = await openViewer(app.url, id, user.token);
    await handshake(afterWake);
    afterWake.ws.send(Buffer.from([0, 255, 1]), { binary: true });
    t.deepEqual([...(await afterWake.waitBytes(rfbVersion.length + 3)).subarray(rfbVersion.length)], [0, 255, 1]);
    // The agent socket dropping ends the viewer's stream too.
    agent.drop();
    t.is((await afterWake.closed).code, 1011);
  });
});

test('the VNC entrance checks token, ownership, state, agent and Origin; a VNC token works once, for its session only', async (t) => {
  await withAgent(app, admin, {}, async (agent, agentId) => {
    const alice = await v1User(app, admin);
    const bob = await v1User(app, admin);
    const id = await runningSession(alice.token, agentId);
    const other = await runningSession(alice.token, agentId);
    await t.throwsAsync(openViewer(app.url, id, ''), { message: 'HTTP 401 AUTH_TOKEN_MISSING' });
    await t.throwsAsync(openViewer(app.url, id, 'not-a-token'), { message: 'HTTP 401 AUTH_TOKEN_INVALID' });
    await t.throwsAsync(openViewer(app.url, id, bob.token), { message: 'HTTP 404 SESSION_NOT_FOUND' });
    await t.throwsAsync(openViewer(app.url, id, alice.token, { Origin: 'https://evil.example' }), { message: 'HTTP 403 ORIGIN_NOT_ALLOWED' });
    t.is((await call(app, 'GET', `${v1}/sessions/${id}/vnc-token`, bob.token)).status, 404);

    const issued = await call(app, 'GET', `${v1}/sessions/${id}/vnc-token`, alice.token);
    t.is(issued.status, 200);
    t.is(issued.body.vnc_url, `/vnc-viewer/${id}?token=${encodeURIComponent(issued.body.token as string)}`);
    t.true(Date.parse(issued.body.expires_at) - Date.now() <= 60_000);
    await t.throwsAsync(openViewer(app.url, other, issued.body.token as string), { message: 'HTTP 401 AUTH_TOKEN_INVALID' });
    const viewer = await openViewer(app.url, id, issued.body.token as string);
    await handshake(viewer);
    viewer.ws.close();
    await t.throwsAsync(openViewer(app.url, id, issued.body.token as string), { message: 'HTTP 401 AUTH_TOKEN_INVALID' });

    await agent.stop();
    await waitFor('the agent to be offline', async () => (await call(app, 'GET', `${v1}/agents/${agentId}`, admin.token)).body.status === 'offline');
    await t.throwsAsync(openViewer(app.url, id, alice.token), { message: 'HTTP 503 AGENT_OFFLINE' });
    t.is((await call(app, 'GET', `${v1}/sessions/${id}`, alice.token)).body.status.phase, 'Unknown');
  });
});

test('logging out closes the viewers opened with that login (its token or its VNC tokens) and voids its unused VNC tokens', async (t) => {
  await withAgent(app, admin, {}, async (agent, agentId) => {
    const user = await v1User(app, admin);
    const id = await runningSession(user.token, agentId);
    const viewer = await openViewer(app.url, id, user.token);
    await handshake(viewer);
    const tokenViewer = await openViewer(app.url, id, (await call(app, 'GET', `${v1}/sessions/${id}/vnc-token`, user.token)).body.token as string);
    await handshake(tokenViewer);
    const unused = (await call(app, 'GET', `${v1}/sessions/${id}/vnc-token`, user.token)).body.token as string;
    t.is((await call(app, 'POST', `${v1}/auth/logout`, user.token)).status, 200);
    t.is((await viewer.closed).code, 4403);
    t.is((await tokenViewer.closed).code, 4403, 'a viewer opened with a VNC token of that login closes too');
    await t.throwsAsync(openViewer(app.url, id, unused), { message: 'HTTP 401 AUTH_TOKEN_INVALID' }, 'a VNC token of an ended login opens nothing');
  });
});

test("an admin watching someone else's session loses the view once demoted (the recheck job)", async (t) => {
  await withAgent(app, admin, {}, async (_agent, agentId) => {
    const owner = await v1User(app, admin);
    const watcher = await v1User(app, admin, 'admin');
    const id = await runningSession(owner.token, agentId);
    const viewer = await openViewer(app.url, id, watcher.token);
    await handshake(viewer);
    const portalAdmin = await loginAdmin(app);
    const demoted = await app.request(
      `/api/admin/users/${watcher.user.id}`,
      bearer(portalAdmin.access_token, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ role: 'user' }) }),
    );
    t.is(demoted.status, 200);
    await runJob(app, 'streamspace.vnc-recheck');
    t.is((await viewer.closed).code, 4403);
    await t.throwsAsync(openViewer(app.url, id, watcher.token), { message: 'HTTP 404 SESSION_NOT_FOUND' });
  });
});
