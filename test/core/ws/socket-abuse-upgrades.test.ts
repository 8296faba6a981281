import test from 'ava';
import { shippedPlugins } from '../../../plugins/index.ts';
import { examplePlugin } from '../../fixtures/example-plugin/index.ts';
import { startTestApp, type TestApp } from '../../helpers/start-test-app.ts';
import { bareUpgrade, flood, tryUpgrade } from '../../helpers/upgrade-probe.ts';

// Unauthenticated WebSocket upgrade floods, on every route the dispatcher serves.
const burst = 40;
const refillMs = 1_000;

let app: TestApp;
let port: number;

test.before(async () => {
  app = await startTestApp({
    plugins: [...shippedPlugins, examplePlugin],
    config: {
      server: { upgrade_rate_burst: burst, upgrade_rate_refill_ms: refillMs },
      ide: { suffix: 'ide.test', scheme: 'http', return_hosted_url: true, path_mode_enabled: true, path_mode_host: null, public_port: null },
    },
  });
  port = Number(new URL(app.url).port);
});

test.after.always(async () => {
  await app?.close();
});

/** How to reach each mounted route: a new route without an entry fails the first test, so it gets covered. */
const reach: Record<string, { path: string; host?: string }> = {
  'core /internal/relay/:channel': { path: '/internal/relay/streamspace.vnc' },
  'game /api/game/servers/:id/console': { path: '/api/game/servers/00000000-0000-4000-8000-000000000000/console' },
  'dev hosted IDE': { path: '/stable/socket', host: 'dev-101.ide.test' },
  'dev /__ide/:id/*': { path: '/__ide/00000000-0000-4000-8000-000000000000/stable/socket', host: 'localhost:8080' },
  'streamspace /agent/ws': { path: '/agent/ws' },
  'streamspace /vnc-viewer/:session_id': { path: '/vnc-viewer/00000000-0000-4000-8000-000000000000' },
  'example /api/example/echo': { path: '/api/example/echo' },
};

const keyOf = (m: (typeof app.server.websockets)[number]): string => `${m.owner} ${m.fullPath ?? 'hosted IDE'}`;

test.serial('every WebSocket route refuses an upgrade without credentials, cheaply, with the envelope', async (t) => {
  const mounted = app.server.websockets.map(keyOf);
  t.log(`routes: ${mounted.join(', ')}`);
  for (const key of mounted) t.truthy(reach[key], `no probe for the WebSocket route "${key}": add it to reach`);
  let n = 0;
  for (const key of mounted) {
    const target = reach[key];
    if (!target) continue;
    n += 1;
    // Each route from its own address, so the per-IP rate (tested below) does not interfere.
    const request = bareUpgrade(target.path, target.host ?? `127.0.0.1:${port}`);
    const one = await tryUpgrade(port, request, `127.0.3.${n}`);
    t.true(one.status >= 400 && one.status < 500, `${key}: refused with ${one.status} ${one.code}`);
    t.regex(one.code, /^[A-Z][A-Z0-9_]*$/, `${key}: an envelope with a code`);
    t.truthy(one.requestId, `${key}: X-Request-Id`);
    const { codes, perSecond } = await flood(port, request, `127.0.3.${n}`, burst - 1, 8);
    t.log(`${key}: ${[...codes].map(([c, k]) => `${k}x ${c}`).join(', ')}; ${perSecond.toFixed(0)} refusals/s`);
    t.deepEqual([...codes.keys()], [`${one.status} ${one.code}`], `${key}: every attempt refused the same way`);
    // A floor a loaded 2-core CI machine clears (lowest seen 49/s: the VNC route counts its own limit in the database first); the numbers are logged.
    t.true(perSecond > 25, `${key}: refusing costs little (${perSecond.toFixed(0)}/s)`);
  }
});

test.serial('past the per-IP upgrade rate, a flood is refused 429 from memory; another address is unaffected', async (t) => {
  const request = bareUpgrade('/api/game/servers/00000000-0000-4000-8000-000000000000/console', `127.0.0.1:${port}`);
  const { codes, perSecond } = await flood(port, request, '127.0.0.2', 1_000);
  t.log(`1,000 upgrades from one address: ${[...codes].map(([c, k]) => `${k}x ${c}`).join(', ')}; ${perSecond.toFixed(0)} answered/s`);
  const limited = codes.get('429 UPGRADE_RATE_LIMITED') ?? 0;
  const refills = Math.ceil(((1_000 / perSecond) * 1000) / refillMs) + 1;
  t.true(limited >= 1_000 - burst - refills, `at most the burst and the refills of the run got through (${limited} limited)`);
  t.true(limited <= 1_000 - burst, 'the burst itself got through to the route');
  t.true(perSecond > 100, `refusals are cheap (${perSecond.toFixed(0)}/s)`);
  const other = await tryUpgrade(port, request, '127.0.0.3');
  t.not(other.status, 429, 'another address still reaches the route');
  const refused = await tryUpgrade(port, request, '127.0.0.2');
  t.is(refused.status, 429);
  t.is(refused.code, 'UPGRADE_RATE_LIMITED');
});
