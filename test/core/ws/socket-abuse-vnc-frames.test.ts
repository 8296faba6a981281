import test from 'ava';
import type { TestApp } from '../../helpers/start-test-app.ts';
import type { SimAgent } from '../../../scripts/lib/streamspace-sim-agent.ts';
import { stillServes } from '../../helpers/raw-http.ts';
import { call, connectAgent, startStreamspace, v1, v1Admin, v1User, waitState, type V1Session } from '../../plugins/streamspace/ss-helpers.ts';
import { openViewer, type Viewer } from '../../plugins/streamspace/vnc-viewer.ts';

// Oversized and fragmented frames from a signed-in VNC viewer (the route relays them to the
// session's agent): past the route's maxPayload, 1009, whether whole or in fragments; the
// agent's other viewers and the server carry on.

let app: TestApp;
let agent: SimAgent;
let user: V1Session;
let sessionId: string;
let maxPayload: number;

test.before(async () => {
  app = await startStreamspace();
  const admin = await v1Admin(app);
  agent = await connectAgent(app, admin, { agentId: 'frames-agent', platform: 'frames' });
  user = await v1User(app, admin);
  const created = await call(app, 'POST', `${v1}/sessions`, user.token, { template: 'firefox-browser', platform: 'frames' });
  if (created.status !== 202) throw new Error(`create: ${created.status} ${JSON.stringify(created.body)}`);
  sessionId = created.body.id as string;
  await waitState(app, user.token, sessionId, 'running');
  maxPayload = app.server.websockets.find((m) => m.fullPath === '/vnc-viewer/:session_id')?.route.maxPayloadBytes ?? 0;
});

test.after.always(async () => {
  await agent?.stop();
  await app?.close();
});

async function closeCode(viewer: Viewer): Promise<number> {
  const timer = setTimeout(() => viewer.ws.terminate(), 5_000);
  const { code } = await viewer.closed;
  clearTimeout(timer);
  return code;
}

test.serial('a viewer message a byte over maxPayload is closed with 1009; another viewer stays open', async (t) => {
  t.true(maxPayload > 0, 'the VNC route declares its maxPayload');
  const calm = await openViewer(app.url, sessionId, user.token);
  const big = await openViewer(app.url, sessionId, user.token);
  big.ws.send(Buffer.alloc(maxPayload + 1), { binary: true });
  t.is(await closeCode(big), 1009);
  t.is(calm.ws.readyState, calm.ws.OPEN);
  calm.ws.close();
  await calm.closed;
  t.is(await stillServes(app.url), 200);
});

test.serial('viewer fragments adding up past maxPayload are closed with 1009', async (t) => {
  const viewer = await openViewer(app.url, sessionId, user.token);
  const fragment = Buffer.alloc(64 * 1024);
  const count = Math.ceil((maxPayload + 1) / fragment.length) + 1;
  for (let i = 0; i < count; i += 1) viewer.ws.send(fragment, { binary: true, fin: i === count - 1 });
  t.is(await closeCode(viewer), 1009);
  t.is(await stillServes(app.url), 200);
});
