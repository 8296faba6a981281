import test from 'ava';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { isRefusal, openSocket } from '../../helpers/ws-client.ts';
import { call, startStreamspace, v1, v1Admin, waitState, withAgent, type V1Session } from './ss-helpers.ts';
import { handshake, openViewer } from './vnc-viewer.ts';

let app: TestApp;
let admin: V1Session;

test.before(async () => {
  app = await startStreamspace();
  admin = await v1Admin(app);
});
test.after.always(async () => {
  await app.close();
});

const viewerUrl = (id: string): string => `${app.url.replace(/^http/, 'ws')}/vnc-viewer/${id}?token=${encodeURIComponent(admin.token)}`;

/** The upgrade refused with this envelope, as a browser would see it. */
async function refused(id: string, headers: Record<string, string> = {}): Promise<{ status: number; code: string; message: string }> {
  const res = await openSocket(viewerUrl(id), headers);
  if (!isRefusal(res)) {
    res.ws.close();
    throw new Error('the upgrade was accepted');
  }
  const body = res.body as { code: string; message: string };
  return { status: res.status, code: body.code, message: body.message };
}

test('the viewer selects binary when offered, no protocol otherwise, and refuses a base64-only offer with a 400 that says why', async (t) => {
  await withAgent(app, admin, {}, async (_agent, platform) => {
    const id = (await call(app, 'POST', `${v1}/sessions`, admin.token, { template: 'firefox-browser', platform })).body.id as string;
    await waitState(app, admin.token, id, 'running');
    for (const offer of [['binary'], ['base64', 'binary'], []]) {
      const viewer = await openViewer(app.url, id, admin.token, {}, offer);
      t.is(viewer.ws.protocol, offer.length === 0 ? '' : 'binary', `offered ${JSON.stringify(offer)}`);
      await handshake(viewer);
      viewer.ws.close();
    }
    const base64 = await refused(id, { 'Sec-WebSocket-Protocol': 'base64' });
    t.is(base64.status, 400);
    t.is(base64.code, 'VNC_SUBPROTOCOL_UNSUPPORTED');
    t.regex(base64.message, /offer the 'binary' subprotocol or none/);
  });
});

test("a VNC 409 names what can be done in the session's state: a failed one is deleted or replaced, a hibernated one woken", async (t) => {
  await withAgent(app, admin, { failCommands: ['start_session'] }, async (_agent, platform) => {
    const id = (await call(app, 'POST', `${v1}/sessions`, admin.token, { template: 'firefox-browser', platform })).body.id as string;
    await waitState(app, admin.token, id, 'failed');
    const failed = await refused(id);
    t.like(failed, { status: 409, code: 'SESSION_NOT_RUNNING' });
    t.regex(failed.message, /delete it \(DELETE \/api\/v1\/sessions\/[0-9a-f-]{36}\) or create a new session/);
    t.notRegex(failed.message, /wake/);
  });
  await withAgent(app, admin, {}, async (_agent, platform) => {
    const id = (await call(app, 'POST', `${v1}/sessions`, admin.token, { template: 'firefox-browser', platform, state: 'hibernated' })).body.id as string;
    await waitState(app, admin.token, id, 'hibernated');
    t.regex((await refused(id)).message, /wake it with PATCH \{"state":"running"\}/);
  });
});
