import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { bearer, createUser, json, loginAdmin, type Session } from '../../helpers/auth.ts';
import { isRefusal, openSocket, type TestSocket } from '../../helpers/ws-client.ts';
import type { DevContainer } from '../../../plugins/dev/dev-container.ts';
import { deleteAndWait, killLocalAgents } from '../game/game-helpers.ts';
import { call, devTestConfig, ideRequest, openIde, readyContainer, startDevApp, waitForContainer } from './dev-helpers.ts';

/** Path mode (`/__ide/<id>/`), and the ways a session ends: disable, deletion, a dead IDE. */
let app: TestApp;
let dataDir: string;
let admin: Session;
let carol: Session;
let box: DevContainer;
const host = 'localhost:8080'; // PUBLIC_URL's host in tests: path mode lives there

test.before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'panel-ide-path-'));
  app = await startDevApp(
    devTestConfig('local', {
      database: { data_dir: dataDir },
      ide: { suffix: 'ide.test', scheme: 'http', return_hosted_url: false, path_mode_enabled: true, path_mode_host: null, public_port: null },
    }),
  );
  admin = await loginAdmin(app);
  carol = await createUser(app, admin);
  box = await readyContainer(app, carol, 'Path box');
});

test.after.always(async () => {
  if (box) await deleteAndWait(app, admin, box.id, '/api/dev').catch(() => undefined);
  await app?.close();
  killLocalAgents(dataDir);
  rmSync(dataDir, { recursive: true, force: true });
});

test.serial('path mode: the link is /__ide/<id>/, the cookie is scoped to it, the prefix is stripped, and nothing may frame it', async (t) => {
  const opened = await openIde(app, carol, box.id);
  t.is(opened.host, host);
  t.is(opened.path, `/__ide/${box.id}/`);
  t.is(opened.answer.status, 303);
  t.is(opened.answer.headers.location, `/__ide/${box.id}/`);
  t.regex(opened.answer.headers['set-cookie']?.[0] ?? '', new RegExp(`^ide_${box.id}=[^;]+; Path=/__ide/${box.id}/; Max-Age=\\d+; HttpOnly; SameSite=Lax$`));
  t.is(opened.answer.headers['content-security-policy'], "frame-ancestors 'self'");

  const echo = await ideRequest(app, host, `/__ide/${box.id}/echo/deep?x=1`, { Cookie: opened.cookie });
  t.is(echo.status, 200);
  t.is(echo.headers['content-security-policy'], "frame-ancestors 'self'");
  const seen = JSON.parse(echo.body) as { url: string; headers: Record<string, string> };
  t.is(seen.url, '/echo/deep?x=1');
  t.is(seen.headers.cookie, undefined);
  t.is(seen.headers['x-forwarded-host'], host);

  // Without the trailing slash: redirected to it. On another host: not the IDE at all.
  const bare = await ideRequest(app, host, `/__ide/${box.id}`);
  t.is(bare.status, 308);
  t.is(bare.headers.location, `/__ide/${box.id}/`);
  t.is((await ideRequest(app, 'elsewhere.example:8080', `/__ide/${box.id}/echo`, { Cookie: opened.cookie })).status, 404);
  // A path-mode cookie does not open the hosted IDE of the same container.
  const hosted = await ideRequest(app, `dev-${box.vmid}.ide.test`, '/echo', { Cookie: opened.cookie.replace(`ide_${box.id}`, `ide_${box.vmid}`), Accept: 'application/json' });
  t.is(hosted.status, 401);

  const socket = await openSocket(`${app.url.replace(/^http/, 'ws')}/__ide/${box.id}/headers`, { Host: host, Origin: `http://${host}`, Cookie: opened.cookie });
  if (isRefusal(socket)) return t.fail(JSON.stringify(socket));
  const hello = (await socket.waitFor((f) => (f as { type?: string }).type === 'headers')) as { url: string };
  t.is(hello.url, '/headers');
  socket.ws.close();
  const foreign = await openSocket(`${app.url.replace(/^http/, 'ws')}/__ide/${box.id}/`, { Host: host, Origin: 'http://evil.example', Cookie: opened.cookie });
  t.true(isRefusal(foreign) && foreign.status === 403);
});

test.serial('an IDE that died answers 502 in the envelope (or a page), not a hang', async (t) => {
  const opened = await openIde(app, carol, box.id);
  const socket = (await openSocket(`${app.url.replace(/^http/, 'ws')}/__ide/${box.id}/`, { Host: host, Origin: `http://${host}`, Cookie: opened.cookie })) as TestSocket;
  t.false(isRefusal(socket));
  const idePid = (JSON.parse(readFileSync(join(dataDir, 'instances', box.id, 'ide.pid'), 'utf8')) as { pid: number }).pid;
  process.kill(-idePid, 'SIGKILL');
  // The IDE's side of the socket died: the browser's side is closed too, and the API lives on.
  await socket.closed;
  const res = await ideRequest(app, host, `/__ide/${box.id}/echo`, { Cookie: opened.cookie, Accept: 'application/json' });
  // The poll may already have seen it stopped (409 IDE_NOT_RUNNING); before that the proxy finds nobody listening (502).
  t.true(res.status === 502 || res.status === 409, `status ${res.status}`);
  t.regex(JSON.parse(res.body).code, /^(IDE_UNREACHABLE|IDE_NOT_RUNNING)$/);
  await waitForContainer(app, carol, box.id, (c) => c.codeserver.state === 'stopped', 'the poll to see the IDE gone');
  t.is((await call(app, carol, 'POST', `/api/dev/${box.id}/codeserver/start`)).status, 202);
  await waitForContainer(app, carol, box.id, (c) => c.codeserver.state === 'running', 'running again');
});

test.serial('disabling the user ends the IDE at once: 401 and the WebSocket closed; deleting the container does the same for an admin', async (t) => {
  const opened = await openIde(app, carol, box.id);
  const socket = (await openSocket(`${app.url.replace(/^http/, 'ws')}/__ide/${box.id}/`, { Host: host, Origin: `http://${host}`, Cookie: opened.cookie })) as TestSocket;
  t.false(isRefusal(socket));
  t.is((await app.request(`/api/admin/users/${carol.user.id}`, bearer(admin.access_token, { ...json({ disabled: true }), method: 'PATCH' }))).status, 200);
  await socket.closed;
  t.is((await ideRequest(app, host, `/__ide/${box.id}/echo`, { Cookie: opened.cookie })).status, 401);
  await app.request(`/api/admin/users/${carol.user.id}`, bearer(admin.access_token, { ...json({ disabled: false }), method: 'PATCH' }));

  // Admins may open any container's IDE; deleting the container closes it.
  const admins = await openIde(app, admin, box.id);
  const adminSocket = (await openSocket(`${app.url.replace(/^http/, 'ws')}/__ide/${box.id}/`, { Host: host, Origin: `http://${host}`, Cookie: admins.cookie })) as TestSocket;
  t.false(isRefusal(adminSocket));
  t.is((await call(app, admin, 'DELETE', `/api/dev/${box.id}`)).status, 202);
  await adminSocket.closed;
  t.is((await ideRequest(app, host, `/__ide/${box.id}/echo`, { Cookie: admins.cookie })).status, 401);
});
