import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { bearer, createUser, json, login, loginAdmin, type Session } from '../../helpers/auth.ts';
import { isRefusal, openSocket, type TestSocket } from '../../helpers/ws-client.ts';
import type { GameServer } from '../../../plugins/game/game-server.ts';
import { call, consoleUrl, createServer, deleteAndWait, gameTestConfig, killLocalAgents, listBackups, openConsole, startGameApp, waitForServer } from './game-helpers.ts';
import { eventually } from '../../helpers/agent-core.ts';

/** Who may touch a server and its console: owners and admins; everyone else sees nothing at all. */
let app: TestApp;
let dataDir: string;
let admin: Session;
let owner: Session & { password: string };
let stranger: Session;
let server: GameServer;

test.before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'panel-game-access-'));
  app = await startGameApp(gameTestConfig('local', { database: { data_dir: dataDir } }, { console: { max_sockets_per_server: 3 } }));
  admin = await loginAdmin(app);
  owner = await createUser(app, admin);
  stranger = await createUser(app, admin);
  server = await createServer(app, owner, 'Private world');
  await waitForServer(app, owner, server.id, (s) => s.state.lifecycle === 'active', 'active');
  t0Backup = (await call(app, owner, 'POST', `/api/game/servers/${server.id}/backups`, { name: 'mine' })).body.backup as { id: string };
  // The agent refuses to start while a backup runs; let it finish first.
  await eventually(async () => (await listBackups(app, owner, server.id))[0]?.state === 'completed', 30_000, 'the backup to complete');
});

let t0Backup: { id: string };

test.after.always(async () => {
  if (app && server) await deleteAndWait(app, admin, server.id).catch(() => undefined);
  await app?.close();
  killLocalAgents(dataDir);
  rmSync(dataDir, { recursive: true, force: true });
});

test('another user gets 404 on every route of the server, and the server is absent from their list', async (t) => {
  const id = server.id;
  const routes: Array<[string, string, unknown?]> = [
    ['GET', `/api/game/servers/${id}`],
    ['DELETE', `/api/game/servers/${id}`],
    ['POST', `/api/game/servers/${id}/start`],
    ['POST', `/api/game/servers/${id}/stop`],
    ['POST', `/api/game/servers/${id}/restart`],
    ['POST', `/api/game/servers/${id}/console/command`, { command: 'say hi' }],
    ['GET', `/api/game/servers/${id}/console/logs`],
    ['POST', `/api/game/servers/${id}/console/ticket`],
    ['GET', `/api/game/servers/${id}/backups`],
    ['POST', `/api/game/servers/${id}/backups`, { name: 'theirs' }],
    ['POST', `/api/game/servers/${id}/backups/restore?id=${t0Backup.id}`],
    ['PATCH', `/api/game/servers/${id}/backups/${t0Backup.id}`, { locked: true }],
    ['DELETE', `/api/game/servers/${id}/backups/${t0Backup.id}`],
  ];
  for (const [method, path, body] of routes) {
    const res = await call(app, stranger, method, path, body);
    t.is(res.status, 404, `${method} ${path}`);
    t.is(res.body.code, 'NOT_FOUND', `${method} ${path}`);
  }
  const list = await call(app, stranger, 'GET', '/api/game/servers');
  t.deepEqual(list.body.servers, []);
  // Nothing happened to the owner's server.
  t.is((await call(app, owner, 'GET', `/api/game/servers/${id}`)).status, 200);
  t.is(((await call(app, owner, 'GET', `/api/game/servers/${id}/backups`)).body.backups as unknown[]).length, 1);
});

test("admins see every server, and one user's with ?user_id=; a user may not ask for someone else's", async (t) => {
  const all = await call(app, admin, 'GET', `/api/game/servers?user_id=${owner.user.id}`);
  t.is(all.status, 200);
  t.deepEqual(
    (all.body.servers as GameServer[]).map((s) => s.id),
    [server.id],
  );
  t.deepEqual((await call(app, admin, 'GET', `/api/game/servers?user_id=${stranger.user.id}`)).body.servers, []);
  t.is(((await call(app, admin, 'GET', '/api/game/servers?status=unknown')).body.servers as unknown[]).length, 0, 'the running server is not unknown');
  t.is((await call(app, stranger, 'GET', `/api/game/servers?user_id=${owner.user.id}`)).status, 403);
  t.is((await call(app, admin, 'GET', `/api/game/servers/${server.id}`)).status, 200);
});

test('the console socket: a stranger cannot get a ticket, a used or expired ticket and a wrong Origin are refused before any upgrade', async (t) => {
  t.is((await call(app, stranger, 'POST', `/api/game/servers/${server.id}/console/ticket`)).status, 404);

  const issue = async () => (await call(app, owner, 'POST', `/api/game/servers/${server.id}/console/ticket`)).body as { ticket: string; url: string; expires_at: string };
  const first = await issue();
  t.true(Date.parse(first.expires_at) - Date.now() <= 61_000);
  const opened = (await openSocket(consoleUrl(app, server.id, first.ticket), { Origin: 'http://localhost:8080' })) as TestSocket;
  t.false(isRefusal(opened));
  opened.ws.close();
  const reused = await openSocket(consoleUrl(app, server.id, first.ticket), { Origin: 'http://localhost:8080' });
  t.true(isRefusal(reused) && reused.status === 401 && reused.body.code === 'TICKET_INVALID');

  const expiring = await issue();
  await app.server.database
    .knex('tickets')
    .update({ expires_at: new Date(Date.now() - 1000) })
    .whereNull('used_at')
    .where('purpose', 'game.console');
  const expired = await openSocket(consoleUrl(app, server.id, expiring.ticket));
  t.true(isRefusal(expired) && expired.status === 401);

  // A ticket is bound to its server: it does not open another one's console.
  const elsewhere = await issue();
  const other = await openSocket(consoleUrl(app, '00000000-0000-4000-8000-000000000000', elsewhere.ticket));
  t.true(isRefusal(other) && other.status === 401);

  const wrongOrigin = await issue();
  const evil = await openSocket(consoleUrl(app, server.id, wrongOrigin.ticket), { Origin: 'https://evil.example' });
  t.true(isRefusal(evil) && evil.status === 403 && evil.body.code === 'ORIGIN_NOT_ALLOWED');
  // Refused at the Origin check, so the ticket was not spent.
  const stillGood = await openSocket(consoleUrl(app, server.id, wrongOrigin.ticket), { Origin: 'http://localhost:8080' });
  t.false(isRefusal(stillGood));
  if (!isRefusal(stillGood)) stillGood.ws.close();

  const none = await openSocket(`${app.url.replace(/^http/, 'ws')}/api/game/servers/${server.id}/console`);
  t.true(isRefusal(none) && none.status === 401 && none.body.code === 'TICKET_MISSING');
});

test.serial('a client flooding the console is throttled, then closed with 4429; another client on the same server carries on', async (t) => {
  t.is((await call(app, owner, 'POST', `/api/game/servers/${server.id}/start`)).status, 202);
  await waitForServer(app, owner, server.id, (s) => s.state.status === 'running', 'running');
  const calm = (await openConsole(app, owner, server.id)) as TestSocket;
  const flood = (await openConsole(app, owner, server.id)) as TestSocket;
  for (let i = 0; i < 60; i += 1) flood.send({ type: 'command', command: `say flood ${i}` });
  await flood.waitFor((f) => (f as { type?: string }).type === 'throttled', 5_000, 'a throttled message');
  t.is((await flood.closed).code, 4429);
  // The burst that fit went through; the rest was dropped.
  calm.send({ type: 'command', command: 'say still-here' });
  await calm.waitFor((f) => String((f as { data?: string }).data).includes('[chat] still-here'), 10_000, "the calm client's command");
  t.is(calm.ws.readyState, calm.ws.OPEN);

  // An oversized message closes only its own socket (1009).
  const big = (await openConsole(app, owner, server.id)) as TestSocket;
  big.send({ type: 'command', command: 'x'.repeat(5000) });
  t.is((await big.closed).code, 1009);
  t.is(calm.ws.readyState, calm.ws.OPEN);
  calm.ws.close();
});

test.serial("disabling the user closes their console sockets at once (4403); the admin's stay open", async (t) => {
  const mine = (await openConsole(app, owner, server.id)) as TestSocket;
  const admins = (await openConsole(app, admin, server.id)) as TestSocket;
  const res = await app.request(`/api/admin/users/${owner.user.id}`, bearer(admin.access_token, { ...json({ disabled: true }), method: 'PATCH' }));
  t.is(res.status, 200);
  t.is((await mine.closed).code, 4403);
  t.is(admins.ws.readyState, admins.ws.OPEN);
  admins.ws.close();
  await app.request(`/api/admin/users/${owner.user.id}`, bearer(admin.access_token, { ...json({ disabled: false }), method: 'PATCH' }));
  // Disabling ended the owner's sessions; the tests after this one sign in again.
  owner = { ...(await login(app, owner.user.username, owner.password)), password: owner.password };
});

test.serial('a server takes at most the configured number of console sockets; the next is refused with 429 before the upgrade', async (t) => {
  const open: TestSocket[] = [];
  for (let i = 0; i < 3; i += 1) open.push((await openConsole(app, owner, server.id)) as TestSocket);
  t.true(open.every((s) => !isRefusal(s)));
  const over = await openConsole(app, owner, server.id);
  t.true(isRefusal(over) && over.status === 429 && over.body.code === 'CONSOLE_SOCKET_LIMIT');
  open[0]?.ws.close();
  await open[0]?.closed;
  const again = await openConsole(app, owner, server.id);
  t.false(isRefusal(again), 'a freed place can be taken');
  for (const s of [...open.slice(1), again as TestSocket]) s.ws.close();
});
