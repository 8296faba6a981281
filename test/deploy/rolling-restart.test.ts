import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { SimAgent } from '../../scripts/lib/streamspace-sim-agent.ts';
import { eventually } from '../helpers/agent-core.ts';
import { killLocalAgents } from '../plugins/game/game-helpers.ts';
import { openSse } from '../helpers/sse-client.ts';
import { adminPassword, login, type TestCluster, startTestCluster } from './cluster-helpers.ts';
import { Tally, consoleClient, followEvents, readLoad, vncClient, type Running } from './rolling-load.ts';

/**
 * Three replicas behind nginx (deploy/nginx.conf), on PostgreSQL on both runs of the suite:
 * the embedded database serves one process, and a rolling restart needs several. Under a
 * steady mixed load every replica is restarted in turn with SIGTERM, as a deploy does.
 */
let running: TestCluster;
let agent: SimAgent | null = null;

test.before(async () => {
  running = await startTestCluster({ alwaysPostgres: true, env: { PANEL_AGENTS_POLL_INTERVAL_MS: '2000' } });
});
test.after.always(async () => {
  await agent?.stop();
  // The local provisioner's agents are detached (they outlive replica restarts): end them here.
  if (running) killLocalAgents(running.dataDir);
  await running?.close();
});

interface ServerView {
  server: { id: string; state: { status: string; lifecycle: string } };
}

test('a rolling restart under load: no 5xx, event streams resume without a gap, console and VNC carry on, no power action is lost', async (t) => {
  const { cluster } = running;
  const tally = new Tally(cluster);
  const token = await login(cluster);
  const auth = { Authorization: `Bearer ${token}` };
  const wsBase = cluster.url.replace(/^http/, 'ws');

  // Two game servers: one whose console is followed, one whose power is cycled.
  const create = async (name: string): Promise<string> => {
    const res = await tally.send('create server', { method: 'POST', path: '/api/game/servers', body: { name }, headers: auth });
    if (res?.status !== 202) throw new Error(`create: ${res?.status} ${res?.text}`);
    return (res.json().server as { id: string }).id;
  };
  const state = async (id: string): Promise<ServerView['server']['state'] | null> => {
    const res = await tally.send('read server', { path: `/api/game/servers/${id}`, headers: auth });
    return res?.status === 200 ? (res.json() as unknown as ServerView).server.state : null;
  };
  const status = async (id: string): Promise<string | null> => (await state(id))?.status ?? null;
  const [consoled, powered] = [await create('rolling console'), await create('rolling power')];
  // Installed servers come up stopped; the followed console needs its server running.
  for (const id of [consoled, powered]) await eventually(async () => (await state(id))?.lifecycle === 'active', 60_000, `server ${id} active`);
  await tally.send('start server', { method: 'POST', path: `/api/game/servers/${consoled}/start`, headers: auth });
  await eventually(async () => (await status(consoled)) === 'running', 30_000, 'the console server running');

  // A StreamSpace session on a simulated agent that reaches the replicas through nginx.
  const v1 = await tally.send('v1 login', { method: 'POST', path: '/api/v1/auth/login', body: { username: 'admin', password: adminPassword } });
  const v1Auth = { Authorization: `Bearer ${v1?.json().token as string}` };
  const key = await tally.send('agent key', { method: 'POST', path: '/api/v1/admin/agent-keys', body: { agent_id: 'rolling-agent' }, headers: v1Auth });
  agent = new SimAgent({ url: cluster.url, agentId: 'rolling-agent', key: key?.json().key as string, platform: 'rolling', autoReconnect: true, commandDelayMs: 20 });
  await agent.start();
  const session = await tally.send('create session', { method: 'POST', path: '/api/v1/sessions', body: { template: 'firefox-browser', platform: 'rolling' }, headers: v1Auth });
  const sessionId = session?.json().id as string;
  await eventually(async () => (await tally.send('read session', { path: `/api/v1/sessions/${sessionId}`, headers: v1Auth }))?.json().state === 'running', 30_000, 'session running');

  let stopped = false;
  const run: Running = { stopped: () => stopped };
  const reads = readLoad(tally, run, [
    ['list servers', { path: '/api/game/servers', headers: auth }],
    ['read server', { path: `/api/game/servers/${consoled}`, headers: auth }],
    ['me', { path: '/api/auth/me', headers: auth }],
    ['list sessions', { path: '/api/v1/sessions', headers: v1Auth }],
  ]);
  const events = followEvents(`${cluster.url}/api/events`, token, run);
  const consoleRun = consoleClient(tally, run, consoled, token, cluster.url, wsBase);
  const vnc = vncClient(run, cluster.url, sessionId, v1?.json().token as string);
  // Power cycles: each accepted action must show, whatever replica restarts meanwhile.
  const lost: string[] = [];
  let cycles = 0;
  const power = (async () => {
    for (let action: 'stop' | 'start' = 'start'; !stopped;) {
      const res = await tally.send(`power ${action}`, { method: 'POST', path: `/api/game/servers/${powered}/${action}`, headers: auth });
      if (res?.status !== 202) {
        // 409: the server is still moving; anything else is counted by the tally.
        await sleep(300);
        continue;
      }
      const target = action === 'stop' ? 'stopped' : 'running';
      const reached = await eventually(async () => (await status(powered)) === target, 30_000, target).then(
        () => true,
        () => false,
      );
      if (!reached) lost.push(`${action} was accepted, but the server never showed ${target}`);
      cycles += 1;
      action = action === 'stop' ? 'start' : 'stop';
    }
  })();

  await sleep(3_000);
  for (const replica of cluster.replicas()) {
    await cluster.restartReplica(replica.number);
    await sleep(4_000);
  }
  stopped = true;
  const [streamed, consoleSeen, vncSeen] = await Promise.all([events, consoleRun, vnc, reads, power]);

  t.deepEqual(tally.serverErrors, [], 'no 5xx answer');
  t.deepEqual(tally.failures, [], 'no request failed without an answer');
  t.true(tally.answers > 200, `${tally.answers} answers`);
  t.deepEqual(lost, []);
  t.true(cycles >= 4, `${cycles} power actions went through`);

  // Every event stream was cut at least once (every replica restarted) and resumed without a gap:
  // a fresh stream resuming from the first event replays exactly what the client saw.
  t.true(streamed.connects >= 2, `the event stream connected ${streamed.connects} times`);
  const ids = streamed.events.map((e) => Number(e.id));
  t.true(ids.length > 0);
  t.deepEqual(
    ids,
    [...new Set(ids)].sort((a, b) => a - b),
    'no event twice, in order',
  );
  const replay = await openSse(`${cluster.url}/api/events`, { Authorization: `Bearer ${token}`, 'Last-Event-ID': String((ids[0] as number) - 1) });
  await replay.waitFor((e) => Number(e.id) >= (ids.at(-1) as number), 10_000);
  replay.close();
  t.deepEqual(
    replay.events.map((e) => Number(e.id)).filter((id) => id <= (ids.at(-1) as number)),
    ids,
    'no event missed',
  );

  t.true(consoleSeen.connects >= 2, `the console connected ${consoleSeen.connects} times (closes ${consoleSeen.closes.join(', ')})`);
  t.true(
    consoleSeen.echoesPerConnect.every((n) => n > 0),
    `every console connection was heard: ${consoleSeen.echoesPerConnect.join(', ')}`,
  );
  t.true(vncSeen.connects >= 2, `the viewer connected ${vncSeen.connects} times (closes ${vncSeen.closes.join(', ')})`);
  t.true(vncSeen.echoesPerConnect.at(-1)! > 0, `the last viewer connection echoes: ${vncSeen.echoesPerConnect.join(', ')}`);
  t.log(`${tally.answers} answers, ${cycles} power actions, ${ids.length} events over ${streamed.connects} streams, console ${consoleSeen.connects} connects, viewer ${vncSeen.connects} connects`);
});
