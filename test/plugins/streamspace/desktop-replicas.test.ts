import test from 'ava';
import { chromium, type Browser } from 'playwright-core';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-database.ts';
import { startSwitchableProxy, type SwitchableProxy } from '../../helpers/switchable-proxy.ts';
import { startStreamspace, v1Admin, v1User, waitFor, type V1Session } from './ss-helpers.ts';
import { connectDesktopAgent, removeDesktopAgent, runningDesktop } from './desktop-helpers.ts';
import type { DesktopAgent } from '../../../scripts/lib/desktop-agent.ts';

/**
 * A real desktop (Xvnc and xterm, run by the desktop agent) viewed in Debian's Chromium
 * through a replica that does not hold the agent's socket; then that replica shuts down under
 * the viewer, the agent registers with another, and the page reconnects by itself. Three
 * replicas in this process on one database (on PGlite too: they share the one instance).
 */
let db: TestDatabase;
let holder: TestApp;
let entry: TestApp;
let spare: TestApp;
let agentPath: SwitchableProxy;
/** The browser's way to the entry replica: cutting it is that replica dying under the page. */
let pagePath: SwitchableProxy;
let admin: V1Session;
let browser: Browser;
let desktop: { agent: DesktopAgent; dataDir: string; agentId: string };

test.before(async () => {
  db = await createTestDatabase();
  const settings = { state_wait_ms: 15_000 };
  holder = await startStreamspace({}, settings, db);
  // The page's origin must be the entry's PUBLIC_URL, as the viewer socket checks Origin.
  pagePath = await startSwitchableProxy('http://127.0.0.1:1');
  entry = await startStreamspace({ server: { public_url: pagePath.url } }, settings, db);
  pagePath.retarget(entry.url);
  spare = await startStreamspace({}, settings, db);
  agentPath = await startSwitchableProxy(holder.url);
  admin = await v1Admin(holder);
  desktop = await connectDesktopAgent(holder, admin, { url: agentPath.url, autoReconnect: true });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
});

test.after.always(async () => {
  await browser?.close();
  if (desktop) await removeDesktopAgent(desktop.agent, desktop.dataDir);
  for (const app of [spare, entry, holder]) await app?.close().catch(() => undefined);
  await agentPath?.close();
  await pagePath?.close();
  await db?.drop();
});

test('the viewer page on another replica shows the desktop, and reconnects by itself when the replica holding the agent shuts down, and when its own connection drops', async (t) => {
  const user = await v1User(holder, admin);
  const session = await runningDesktop(holder, user.token, desktop.agentId);
  const page = await browser.newPage();
  try {
    await page.goto(`${pagePath.url}/vnc-viewer/${session.id as string}#token=${encodeURIComponent(user.token)}`);
    const state = (): Promise<string | null> => page.locator('body').getAttribute('data-state');
    await waitFor('the page to connect through the relay', async () => (await state()) === 'connected', 20_000);
    const seen: string[] = [];
    const watcher = setInterval(() => {
      void state()
        .then((s) => {
          if (s && seen.at(-1) !== s) seen.push(s);
        })
        .catch(() => undefined);
    }, 25);
    agentPath.retarget(spare.url);
    await holder.close();
    await waitFor('the page to reconnect once the agent is on its new replica', async () => seen.includes('reconnecting') && (await state()) === 'connected', 30_000);
    clearInterval(watcher);
    t.is(await page.locator('body').getAttribute('data-reconnect-code'), '1012', 'the relay closed with "reconnect"');
    t.false(seen.includes('disconnected'), `the page never gave up (states: ${seen.join(' → ')})`);
    t.is(await page.locator('#screen canvas').count(), 1, 'noVNC draws the desktop again');

    // The page's own connection drops without a close frame (its replica killed): it reconnects too.
    seen.length = 0;
    const again = setInterval(() => {
      void state()
        .then((s) => {
          if (s && seen.at(-1) !== s) seen.push(s);
        })
        .catch(() => undefined);
    }, 25);
    pagePath.cutAll();
    await waitFor('the page to reconnect after its connection dropped', async () => seen.includes('reconnecting') && (await state()) === 'connected', 30_000);
    clearInterval(again);
    t.is(await page.locator('body').getAttribute('data-reconnect-code'), '1006');
  } finally {
    await page.close();
  }
});
