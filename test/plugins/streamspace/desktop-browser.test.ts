import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import test from 'ava';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { isRefusal, openSocket } from '../../helpers/ws-client.ts';
import { call, startStreamspace, v1, v1Admin, v1User, waitFor, type V1Session } from './ss-helpers.ts';
import { connectDesktopAgent, removeDesktopAgent, runningDesktop } from './desktop-helpers.ts';
import type { DesktopAgent } from '../../../scripts/lib/desktop-agent.ts';
import { freeLoopbackPort } from '../../../scripts/lib/desktop-processes.ts';

/**
 * A real desktop seen and typed into through the product, end to end: Debian's Chromium
 * (driven by playwright-core, never a downloaded browser) opens the API's noVNC viewer page,
 * which reaches a real Xvnc and xterm run by the desktop agent.
 */
let app: TestApp;
let admin: V1Session;
let browser: Browser;
let desktop: { agent: DesktopAgent; agentId: string; dataDir: string };
/** Another origin, listed in ALLOWED_ORIGINS, serving the own-page example of docs/streamspace.md. */
let ownSite: Server;
let ownOrigin: string;

test.before(async () => {
  // The viewer socket checks Origin against PUBLIC_URL, so the API serves at the URL it knows as its own.
  const port = await freeLoopbackPort();
  const ownPort = await freeLoopbackPort();
  ownOrigin = `http://localhost:${ownPort}`;
  app = await startStreamspace({ server: { port, public_url: `http://127.0.0.1:${port}`, allowed_origins: [ownOrigin] } }, { state_wait_ms: 15_000 });
  ownSite = await serveOwnPage(ownPort, app.url);
  admin = await v1Admin(app);
  desktop = await connectDesktopAgent(app, admin);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
});
test.after.always(async () => {
  await browser?.close();
  ownSite?.close();
  if (desktop) await removeDesktopAgent(desktop.agent, desktop.dataDir);
  await app?.close();
});

/** The docs' example page, aimed at this API, with noVNC's files from the installed package next to it. */
function serveOwnPage(port: number, api: string): Promise<Server> {
  const docs = readFileSync('docs/streamspace.md', 'utf8');
  const example = /\*\*Your own noVNC page\.\*\*[\s\S]*?```html\n([\s\S]*?)```/.exec(docs)?.[1];
  if (!example) throw new Error('docs/streamspace.md has no own-page example');
  const html = example.replace("'https://panel.example.com'", JSON.stringify(api));
  const novnc = join('node_modules', '@novnc', 'novnc');
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/desktop.html') return void res.writeHead(200, { 'Content-Type': 'text/html' }).end(html);
    const file = /^\/novnc\/((?:core|vendor)\/[\w./-]+\.js)$/.exec(path)?.[1];
    if (!file || file.includes('..') || !existsSync(join(novnc, file))) return void res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(readFileSync(join(novnc, file)));
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

async function openViewerPage(sessionId: string, token: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  await page.goto(`${app.url}/vnc-viewer/${sessionId}#token=${encodeURIComponent(token)}`);
  return page;
}

async function waitViewerState(page: Page, state: string, timeoutMs = 15_000): Promise<void> {
  try {
    await page.locator(`body[data-state="${state}"]`).waitFor({ state: 'attached', timeout: timeoutMs });
  } catch {
    const body = page.locator('body');
    throw new Error(
      `the viewer page is ${await body.getAttribute('data-state')}, not ${state} (socket ${await body.getAttribute('data-socket')}, close ${await body.getAttribute('data-close-code')}: ${await body.getAttribute('data-close-reason')})`,
    );
  }
}

/** Distinct colours in a sample of the noVNC canvas: a blank (or black) framebuffer has one. */
async function canvasColours(page: Page): Promise<number> {
  const canvas = page.locator('#screen canvas');
  if ((await canvas.count()) === 0) return 0;
  // Runs in the page; typed loosely, as this project compiles without the DOM's types.
  return canvas.first().evaluate((c: { width: number; height: number; getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } }) => {
    if (c.width === 0) return 0;
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const seen = new Set<number>();
    for (let i = 0; i < data.length; i += 4 * 7) seen.add((data[i] as number) * 65_536 + (data[i + 1] as number) * 256 + (data[i + 2] as number));
    return seen.size;
  });
}

async function waitDrawn(page: Page): Promise<number> {
  return waitFor(
    'the desktop to be drawn on the canvas',
    async () => {
      const colours = await canvasColours(page);
      return colours > 1 ? colours : null;
    },
    15_000,
  );
}

test.serial('log in through /api/v1, start an xterm desktop, see it in the viewer page, and type a command that runs in the session', async (t) => {
  const user = await v1User(app, admin); // logs in through POST /api/v1/auth/login
  const session = await runningDesktop(app, user.token, desktop.agentId);
  const page = await openViewerPage(session.id, user.token);
  try {
    await waitViewerState(page, 'connected');
    t.true((await waitDrawn(page)) > 1, 'the canvas is not blank');
    t.false(page.url().includes('token='), 'the page takes the token out of the address bar');

    // Without a window manager X focus follows the pointer: click into the xterm, then type.
    const canvas = page.locator('canvas');
    const box = await canvas.boundingBox();
    await page.mouse.click((box?.x ?? 0) + 150, (box?.y ?? 0) + 120);
    const probe = `probe-${Math.random().toString(36).slice(2, 10)}`;
    await page.keyboard.type(`touch ${probe}`, { delay: 15 });
    await page.keyboard.press('Enter');
    const home = desktop.agent.desktops.snapshot().get(session.id)?.home as string;
    await waitFor(`${probe} in the session's home`, async () => existsSync(join(home, probe)), 15_000);
    t.true(existsSync(join(home, probe)));

    // Hibernate: the viewer is told; wake: Reconnect shows the desktop again.
    t.is((await call(app, 'PATCH', `${v1}/sessions/${session.id}`, user.token, { state: 'hibernated' })).status, 200);
    await waitViewerState(page, 'disconnected');
    t.regex((await page.locator('body').getAttribute('data-close-reason')) ?? '', /left running|hibernated|not running/);
    t.is((await call(app, 'PATCH', `${v1}/sessions/${session.id}`, user.token, { state: 'running' })).status, 200);
    await page.getByRole('button', { name: 'Reconnect' }).click();
    await waitViewerState(page, 'connected');
    t.true((await waitDrawn(page)) > 1, 'the desktop is seen again after the wake');
    t.true(existsSync(join(home, probe)), 'on the same home');
  } finally {
    await page.close();
  }
});

test.serial("another user's token and a logged-out token are refused, and the page says why", async (t) => {
  const owner = await v1User(app, admin);
  const other = await v1User(app, admin);
  const session = await runningDesktop(app, owner.token, desktop.agentId);

  const stranger = await openViewerPage(session.id, other.token);
  try {
    await waitViewerState(stranger, 'disconnected');
    t.regex((await stranger.locator('body').getAttribute('data-close-reason')) ?? '', /no such session, or it is not yours/);
    t.is(await canvasColours(stranger), 0, 'nothing of the desktop was drawn');
  } finally {
    await stranger.close();
  }

  const leaving = await v1User(app, admin);
  const theirs = await runningDesktop(app, leaving.token, desktop.agentId);
  t.is((await call(app, 'POST', `${v1}/auth/logout`, leaving.token)).status < 300, true);
  const loggedOut = await openViewerPage(theirs.id, leaving.token);
  try {
    await waitViewerState(loggedOut, 'disconnected');
    t.regex((await loggedOut.locator('body').getAttribute('data-close-reason')) ?? '', /invalid, expired or revoked/);
  } finally {
    await loggedOut.close();
  }
});

test.serial("the docs' own noVNC page, served from an origin in ALLOWED_ORIGINS, shows the desktop; Origin: null (a file:// page) is refused", async (t) => {
  const user = await v1User(app, admin);
  const session = await runningDesktop(app, user.token, desktop.agentId);
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  try {
    await page.addInitScript((token: string) => (globalThis as unknown as { sessionStorage: { setItem(k: string, v: string): void } }).sessionStorage.setItem('streamspace_token', token), user.token);
    await page.goto(`${ownOrigin}/desktop.html?session=${session.id}`);
    t.true((await waitDrawn(page)) > 1, 'the canvas is not blank');
  } finally {
    await page.close();
  }
  const fromFile = await openSocket(`${app.url.replace(/^http/, 'ws')}/vnc-viewer/${session.id}?token=${encodeURIComponent(user.token)}`, { Origin: 'null' });
  t.true(isRefusal(fromFile));
  if (isRefusal(fromFile)) t.like(fromFile, { status: 403, body: { code: 'ORIGIN_NOT_ALLOWED' } });
});
