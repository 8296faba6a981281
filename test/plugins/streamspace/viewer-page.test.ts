import test from 'ava';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { streamspaceConfigSchema } from '../../../plugins/streamspace/config.ts';
import { call, startStreamspace, v1, v1Admin, v1User, waitState, withAgent, type V1Session } from './ss-helpers.ts';
import { handshake, openViewer, rfbVersion } from './vnc-viewer.ts';

let app: TestApp;
let admin: V1Session;
const frameAncestors = "'self' https://portal.example.com";

test.before(async () => {
  app = await startStreamspace({}, { viewer: { frame_ancestors: frameAncestors } });
  admin = await v1Admin(app);
});
test.after.always(async () => {
  await app.close();
});

const expectedCsp = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  `frame-ancestors ${frameAncestors}`,
].join('; ');

test('GET /vnc-viewer/{id} without Upgrade answers the viewer page: HTML under a strict CSP with the configured frame-ancestors, nosniff, no-referrer, no-store', async (t) => {
  const id = crypto.randomUUID();
  const res = await app.request(`/vnc-viewer/${id}`);
  t.is(res.status, 200);
  t.is(res.headers.get('content-type'), 'text/html; charset=utf-8');
  t.is(res.headers.get('content-security-policy'), expectedCsp);
  t.is(res.headers.get('x-content-type-options'), 'nosniff');
  t.is(res.headers.get('referrer-policy'), 'no-referrer');
  t.is(res.headers.get('cache-control'), 'no-store');
  const html = await res.text();
  t.regex(html, /^<!doctype html>/i);
  t.regex(html, /<script type="module" src="\/vnc-viewer\/_assets\/[^"]+\/viewer\.js"><\/script>/);
  t.regex(html, /<link rel="stylesheet" href="\/vnc-viewer\/_assets\/[^"]+\/viewer\.css">/);
  t.false(/<script(?![^>]*\bsrc=)[^>]*>/i.test(html), 'no inline script');
  t.false(/\sstyle=|<style/i.test(html), 'no inline style');
  t.false(/\son[a-z]+=/i.test(html), 'no inline event handler');
  for (const hook of ['id="status"', 'id="reconnect"', 'id="screen"', 'id="help"', 'data-state="loading"']) t.true(html.includes(hook), hook);
  t.false(html.includes('{{'), 'every placeholder filled');
  t.is((await app.request(`/vnc-viewer/${id}`, { method: 'HEAD' })).status, 200);
});

test("the page is the same for every session and needs no token; the default frame-ancestors is 'self'", async (t) => {
  const a = await app.request(`/vnc-viewer/${crypto.randomUUID()}`);
  const b = await app.request(`/vnc-viewer/${crypto.randomUUID()}`, { headers: { Authorization: 'Bearer not-a-token' } });
  t.is(a.status, 200);
  t.is(b.status, 200);
  t.is(await a.text(), await b.text());
  const parsed = streamspaceConfigSchema.parse({});
  t.is(parsed.viewer.frame_ancestors, "'self'");
  for (const bad of ["'self'; script-src *", "'self', https://x.example", "'self'\r\nX-Evil: 1", '']) {
    t.false(streamspaceConfigSchema.safeParse({ viewer: { frame_ancestors: bad } }).success, JSON.stringify(bad));
  }
  t.true(streamspaceConfigSchema.safeParse({ viewer: { frame_ancestors: "'none'" } }).success);
});

test('an id that is not a UUID is 404 SESSION_NOT_FOUND with the JSON envelope', async (t) => {
  for (const id of ['not-a-uuid', 'novnc', '123', `${crypto.randomUUID()}x`, 'a%20b']) {
    const res = await call(app, 'GET', `/vnc-viewer/${id}`);
    t.is(res.status, 404, id);
    t.is(res.body.code, 'SESSION_NOT_FOUND', id);
    t.is(typeof res.body.request_id, 'string', id);
    t.regex(res.headers.get('content-type') ?? '', /^application\/json/, id);
  }
});

test('/openapi.json lists the page with a text/html answer, and documents viewer_url on the vnc-token route', async (t) => {
  const doc = (await call(app, 'GET', '/openapi.json')).body;
  const page = doc.paths['/vnc-viewer/{session_id}'].get;
  t.deepEqual(Object.keys(page.responses['200'].content), ['text/html']);
  t.is(page.responses['200'].content['text/html'].schema.type, 'string');
  t.deepEqual(page.tags, ['streamspace']);
  // The page takes no credential (`{}`); the WebSocket on the same path takes the VNC token.
  t.deepEqual(page.security, [{}, { vncToken: [] }]);
  t.truthy(page.responses['101'], 'the upgrade on the same path is documented');
  t.truthy(page.responses['404']);
  const token = doc.paths['/api/v1/sessions/{id}/vnc-token'].get.responses['200'].content['application/json'].schema;
  t.deepEqual([...token.required].sort(), ['expires_at', 'token', 'viewer_url', 'vnc_url']);
  t.regex(token.properties.viewer_url.description, /#token=/);
});

test('vnc-token keeps vnc_url and adds viewer_url (the page, token in the fragment); the socket the page opens works and no log line carries the token', async (t) => {
  await withAgent(app, admin, {}, async (_agent, agentId) => {
    const user = await v1User(app, admin);
    const created = await call(app, 'POST', `${v1}/sessions`, user.token, { template: 'firefox-browser', platform: agentId });
    t.is(created.status, 202);
    const id = created.body.id as string;
    const session = await waitState(app, user.token, id, 'running');
    t.is(session.status.vnc_url, `/vnc-viewer/${id}`, 'status.vnc_url is unchanged');

    const issued = await call(app, 'GET', `${v1}/sessions/${id}/vnc-token`, user.token);
    t.is(issued.status, 200);
    const token = issued.body.token as string;
    t.is(issued.body.vnc_url, `/vnc-viewer/${id}?token=${encodeURIComponent(token)}`);
    t.is(issued.body.viewer_url, `/vnc-viewer/${id}#token=${encodeURIComponent(token)}`);

    // What the page does: load itself (the fragment is not sent), then open the socket with ?token=.
    const page = await app.request(issued.body.viewer_url as string, { headers: { 'X-Request-Id': 'viewer-page-load' } });
    t.is(page.status, 200);
    const fragment = new URLSearchParams((issued.body.viewer_url as string).split('#')[1]).get('token') as string;
    t.is(fragment, token);
    const viewer = await openViewer(app.url, id, fragment);
    await handshake(viewer);
    viewer.ws.send(Buffer.from('hi'), { binary: true });
    t.is((await viewer.waitBytes(rfbVersion.length + 2)).subarray(rfbVersion.length).toString(), 'hi');
    viewer.ws.close();

    const pageLine = app.logs.find((l) => l.request_id === 'viewer-page-load' && l.msg === 'request');
    t.is(pageLine?.path, `/vnc-viewer/${id}`, 'the page load is logged without the fragment');
    const upgrade = app.logs.find((l) => l.msg === 'upgrade' && typeof l.path === 'string' && l.path.startsWith(`/vnc-viewer/${id}?`) && l.status === 101);
    t.is(upgrade?.path, `/vnc-viewer/${id}?token=[REDACTED]`);
    t.deepEqual(
      app.logs.filter((l) => JSON.stringify(l).includes(token)),
      [],
      'the token is in no log line',
    );
    t.deepEqual(
      app.logs.filter((l) => JSON.stringify(l).includes(user.token)),
      [],
      'nor is the login token',
    );
  });
});
