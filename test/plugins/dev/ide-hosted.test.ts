import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { bearer, createUser, json, login, loginAdmin, type Session } from '../../helpers/auth.ts';
import { isRefusal, openSocket, type TestSocket } from '../../helpers/ws-client.ts';
import type { DevContainer } from '../../../plugins/dev/dev-container.ts';
import { deleteAndWait as deleteServerAndWait, killLocalAgents } from '../game/game-helpers.ts';
import { call, devTestConfig, ideLink, ideRequest, openIde, readyContainer, startDevApp, waitForContainer } from './dev-helpers.ts';

/** The hosted IDE (`dev-<vmid>.<suffix>`): links, cookies, proxying and revocation, against real agents running the IDE stand-in. */
let app: TestApp;
let dataDir: string;
let admin: Session;
let alice: Session & { password: string };
let bob: Session;
let aliceBox: DevContainer;
let bobBox: DevContainer;

test.before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'panel-ide-'));
  app = await startDevApp(devTestConfig('local', { database: { data_dir: dataDir } }));
  admin = await loginAdmin(app);
  alice = await createUser(app, admin);
  bob = await createUser(app, admin);
  [aliceBox, bobBox] = await Promise.all([readyContainer(app, alice, 'Alice box'), readyContainer(app, bob, 'Bob box')]);
});

test.after.always(async () => {
  for (const box of [aliceBox, bobBox]) if (box) await deleteServerAndWait(app, admin, box.id, '/api/dev').catch(() => undefined);
  await app?.close();
  killLocalAgents(dataDir);
  rmSync(dataDir, { recursive: true, force: true });
});

const hostOf = (box: DevContainer) => `dev-${box.vmid}.ide.test`;
const wsUrl = (path = '/') => `${app.url.replace(/^http/, 'ws')}${path}`;

test.serial('a link is spent once for a cookie and a 303 to the same URL without the token; the IDE then answers through the proxy', async (t) => {
  t.not(aliceBox.vmid, bobBox.vmid);
  const link = await ideLink(app, alice, aliceBox.id);
  t.is(new URL(link.url).host, hostOf(aliceBox));
  t.true(Date.parse(link.expires_at) - Date.now() <= 61_000);

  const first = await ideRequest(app, hostOf(aliceBox), `/some/page?x=1&ide_token=${link.token}`);
  t.is(first.status, 303);
  t.is(first.headers.location, '/some/page?x=1');
  t.is(first.headers['cache-control'], 'no-store');
  t.is(first.headers['referrer-policy'], 'no-referrer');
  const cookie = first.headers['set-cookie']?.[0] ?? '';
  // Over http (these tests' IDE scheme) a Secure cookie would be dropped by a browser on any host but localhost.
  t.regex(cookie, new RegExp(`^ide_${aliceBox.vmid}=[A-Za-z0-9_-]{40,}; Path=/; Max-Age=\\d+; HttpOnly; SameSite=Lax$`));

  const again = await ideRequest(app, hostOf(aliceBox), `/?ide_token=${link.token}`, { Accept: 'application/json' });
  t.is(again.status, 401, 'a link works once');
  t.is(JSON.parse(again.body).code, 'IDE_TOKEN_INVALID');

  const page = await ideRequest(app, hostOf(aliceBox), '/', { Cookie: cookie.split(';')[0] as string, Accept: 'text/html' });
  t.is(page.status, 200);
  t.regex(page.body, /IDE stand-in/);
  t.regex(String(page.headers['set-cookie']), /ide-own=stand-in/, "the IDE's own cookies pass through");
  t.is(page.headers['access-control-allow-origin'], undefined, 'upstream CORS headers are removed');
  t.is(page.headers['access-control-allow-credentials'], undefined);
});

test.serial("the IDE never sees the panel's Authorization header, the token or a panel cookie; X-Forwarded-* are the proxy's own", async (t) => {
  const { cookie } = await openIde(app, alice, aliceBox.id);
  const echo = await ideRequest(app, hostOf(aliceBox), '/echo?q=1', {
    Cookie: `${cookie}; ide_999=other; __Host-ide_998=other; editor-pref=dark`,
    Authorization: `Bearer ${alice.access_token}`,
    'X-Forwarded-For': '6.6.6.6',
    'X-Forwarded-Host': 'evil.example',
    Forwarded: 'for=6.6.6.6',
  });
  t.is(echo.status, 200);
  const seen = JSON.parse(echo.body) as { url: string; headers: Record<string, string> };
  t.is(seen.url, '/echo?q=1');
  t.is(seen.headers.authorization, undefined);
  t.is(seen.headers.cookie, 'editor-pref=dark', "only the IDE's own cookies");
  t.is(seen.headers['x-forwarded-host'], hostOf(aliceBox), 'the public IDE host, as the browser sees it');
  t.is(seen.headers['x-forwarded-for'], '127.0.0.1');
  t.is(seen.headers['x-forwarded-proto'], 'http');
  t.is(seen.headers.forwarded, undefined);
  t.false(echo.body.includes(alice.access_token));
  t.false(/ide_token/.test(echo.body));
});

test.serial("tokens and cookies are bound: another vmid, another user's container, no cookie, a forged cookie", async (t) => {
  // Alice's link spent on Bob's host: refused, and not spent.
  const link = await ideLink(app, alice, aliceBox.id);
  const elsewhere = await ideRequest(app, hostOf(bobBox), `/?ide_token=${link.token}`, { Accept: 'application/json' });
  t.is(elsewhere.status, 401);
  t.is((await ideRequest(app, hostOf(aliceBox), `/?ide_token=${link.token}`)).status, 303, 'still good on its own host');

  // Bob cannot get a link for Alice's container, and his cookie does not open her IDE.
  t.is((await call(app, bob, 'POST', `/api/dev/${aliceBox.id}/ide-token`)).status, 404);
  const bobs = await openIde(app, bob, bobBox.id);
  const crossed = await ideRequest(app, hostOf(aliceBox), '/echo', { Cookie: bobs.cookie.replace(`ide_${bobBox.vmid}`, `ide_${aliceBox.vmid}`), Accept: 'application/json' });
  t.is(crossed.status, 401);
  t.is(JSON.parse(crossed.body).code, 'IDE_SESSION_INVALID');

  const none = await ideRequest(app, hostOf(aliceBox), '/', { Accept: 'text/html' });
  t.is(none.status, 401);
  t.regex(none.body, /Open the IDE again from the portal/);
  t.regex(String(none.headers['content-type']), /text\/html/);
  const forged = await ideRequest(app, hostOf(aliceBox), '/', { Cookie: `ide_${aliceBox.vmid}=forged`, Accept: 'application/json' });
  t.is(JSON.parse(forged.body).code, 'IDE_SESSION_INVALID');

  // Expired links are refused.
  const old = await ideLink(app, alice, aliceBox.id);
  await app.server.database
    .knex('dev_ide_tokens')
    .whereNull('used_at')
    .update({ expires_at: new Date(Date.now() - 1000) });
  t.is((await ideRequest(app, hostOf(aliceBox), `/?ide_token=${old.token}`)).status, 401);
});

test.serial("IDE WebSockets: the cookie and the IDE's own Origin open them; a foreign Origin or no cookie is refused before the upgrade", async (t) => {
  const { cookie } = await openIde(app, alice, aliceBox.id);
  const origin = `http://${hostOf(aliceBox)}`;
  const socket = await openSocket(wsUrl('/headers?x=1'), { Host: hostOf(aliceBox), Origin: origin, Cookie: `${cookie}; mine=1`, Authorization: 'Bearer leaked' });
  if (isRefusal(socket)) return t.fail(JSON.stringify(socket));
  const hello = (await socket.waitFor((f) => (f as { type?: string }).type === 'headers')) as { headers: Record<string, string> };
  t.is(hello.headers.cookie, 'mine=1');
  t.is(hello.headers.authorization, undefined);
  t.is(hello.headers['x-forwarded-host'], hostOf(aliceBox));
  socket.send('ping-1');
  t.is(await socket.waitFor((f) => f === 'ping-1'), 'ping-1');
  socket.ws.close();

  const foreign = await openSocket(wsUrl('/'), { Host: hostOf(aliceBox), Origin: 'http://evil.example', Cookie: cookie });
  t.true(isRefusal(foreign) && foreign.status === 403);
  const otherIde = await openSocket(wsUrl('/'), { Host: hostOf(aliceBox), Origin: `http://${hostOf(bobBox)}`, Cookie: cookie });
  t.true(isRefusal(otherIde) && otherIde.status === 403, "another IDE's origin is foreign too");
  const anonymous = await openSocket(wsUrl('/'), { Host: hostOf(aliceBox), Origin: origin });
  t.true(isRefusal(anonymous) && anonymous.status === 401);
});

test.serial('after logout the IDE answers 401 and its WebSocket is closed; stopping the IDE ends sessions too', async (t) => {
  const session = await login(app, alice.user.username, alice.password);
  const { cookie } = await openIde(app, session, aliceBox.id);
  const socket = (await openSocket(wsUrl('/'), { Host: hostOf(aliceBox), Origin: `http://${hostOf(aliceBox)}`, Cookie: cookie })) as TestSocket;
  t.false(isRefusal(socket));
  t.is((await ideRequest(app, hostOf(aliceBox), '/echo', { Cookie: cookie })).status, 200);

  const out = await app.request('/api/auth/logout', bearer(session.access_token, json({})));
  t.is(out.status, 204);
  const started = Date.now();
  await socket.closed;
  t.true(Date.now() - started < 5_000, `closed after ${Date.now() - started} ms`);
  t.is((await ideRequest(app, hostOf(aliceBox), '/echo', { Cookie: cookie })).status, 401);

  // Alice's other sign-in still works; stopping the IDE ends it.
  const still = await openIde(app, alice, aliceBox.id);
  t.is((await ideRequest(app, hostOf(aliceBox), '/echo', { Cookie: still.cookie })).status, 200);
  t.is((await call(app, alice, 'POST', `/api/dev/${aliceBox.id}/codeserver/stop`)).status, 202);
  t.is((await ideRequest(app, hostOf(aliceBox), '/echo', { Cookie: still.cookie })).status, 401);
  await waitForContainer(app, alice, aliceBox.id, (c) => c.codeserver.state === 'stopped', 'the poll to see the IDE stopped', 5_000);
  t.is((await call(app, alice, 'POST', `/api/dev/${aliceBox.id}/ide-token`)).status, 409, 'no links while the IDE is stopped');
  t.is((await call(app, alice, 'POST', `/api/dev/${aliceBox.id}/codeserver/start`)).status, 202);
  await waitForContainer(app, alice, aliceBox.id, (c) => c.codeserver.state === 'running', 'the IDE running again', 10_000);
});

test.serial('dev containers have the same file manager: upload, list, download; Bob gets 404', async (t) => {
  const base = `${app.url}/api/dev/${aliceBox.id}/files`;
  const put = await fetch(`${base}/content?path=${encodeURIComponent('/src/main.go')}`, { method: 'PUT', headers: { Authorization: `Bearer ${alice.access_token}` }, body: 'package main\n' });
  t.is(put.status, 201);
  const listed = (await (await fetch(`${base}?path=/src`, { headers: { Authorization: `Bearer ${alice.access_token}` } })).json()) as { entries: Array<{ name: string; size_bytes: number }> };
  t.deepEqual(
    listed.entries.map((e) => [e.name, e.size_bytes]),
    [['main.go', 13]],
  );
  const got = await fetch(`${base}/content?path=/src/main.go`, { headers: { Authorization: `Bearer ${alice.access_token}` } });
  t.is(await got.text(), 'package main\n');
  t.is((await fetch(`${base}?path=/src`, { headers: { Authorization: `Bearer ${bob.access_token}` } })).status, 404);
});
