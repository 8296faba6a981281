import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { createUser, loginAdmin, type Session } from '../../helpers/auth.ts';
import { eventually } from '../../helpers/agent-core.ts';
import type { DevContainer } from '../../../plugins/dev/dev-container.ts';
import { deleteAndWait, killLocalAgents } from '../game/game-helpers.ts';
import { freeLoopbackPort } from '../../../scripts/lib/desktop-processes.ts';
import { call, devTestConfig, ideLink, readyContainer, startDevApp } from './dev-helpers.ts';
import { abnormalCloses, codeServerBin, codeServerOwnMisses, codeServerCommand, ideLayout, reload, socketCloseRecorder, watchContext, type Troubles } from './code-server.ts';

/**
 * The real IDE in a real browser, through the product: code-server (installed by
 * scripts/install-code-server.sh, run by the reference agent as the dev template's IDE
 * command) opened in Debian's Chromium from an IDE link, over http on `*.localhost` hosts
 * that Chromium resolves to loopback. Hosted mode: the workbench loads and a command typed
 * into its integrated terminal runs in the container's workspace. Path mode: a Markdown
 * preview opens (a webview iframe of the IDE's own origin, which the panel's
 * `frame-ancestors 'self'` must allow). Every failed request, error answer, abnormal
 * WebSocket close and console error is collected, and there must be none.
 */
let bin: string;
let browser: Browser;

interface Panel {
  app: TestApp;
  dataDir: string;
  admin: Session;
  user: Session;
  box?: DevContainer;
}
const panels: Panel[] = [];

test.before(async () => {
  bin = codeServerBin(); // fails, saying to run the install script, when code-server is missing
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
});

test.after.always(async () => {
  await browser?.close();
  for (const panel of panels) {
    if (panel.box) await deleteAndWait(panel.app, panel.admin, panel.box.id, '/api/dev').catch(() => undefined);
    await panel.app.close().catch(() => undefined);
    killLocalAgents(panel.dataDir);
    rmSync(panel.dataDir, { recursive: true, force: true });
  }
});

/**
 * The API on a port known in advance and PUBLIC_URL `http://localhost:<port>`, as `npm start`
 * has it (PORT, PUBLIC_URL). Hosted mode keeps every IDE setting at its default, so the link is
 * exactly what a plain `npm start` hands out (`http://dev-<vmid>.localhost:<port>/`, PUBLIC_URL's
 * scheme and port); path mode only turns path links on (`http://localhost:<port>/__ide/<id>/`).
 */
async function startPanel(mode: 'hosted' | 'path'): Promise<Panel> {
  const port = await freeLoopbackPort();
  // Short: code-server's session socket lives in its user-data dir, and Node silently cuts a
  // Unix socket path at 107 bytes (binding a file of the cut name).
  const dataDir = mkdtempSync(join(tmpdir(), 'pib-'));
  const template = { display_name: 'code-server', command: null, ready_pattern: null, ide_command: codeServerCommand(bin), resources: { cpu_cores: 2, memory_mb: 4096, disk_mb: 20480 } };
  const app = await startDevApp(
    devTestConfig(
      'local',
      {
        server: { port, public_url: `http://localhost:${port}` },
        database: { data_dir: dataDir },
        ide: mode === 'hosted' ? {} : { return_hosted_url: false, path_mode_enabled: true },
      },
      { templates: { default: template } },
    ),
  );
  const admin = await loginAdmin(app);
  const panel: Panel = { app, dataDir, admin, user: await createUser(app, admin) };
  panels.push(panel);
  return panel;
}

const workspaceOf = (panel: Panel, box: DevContainer) => join(panel.dataDir, 'instances', box.id, 'data', ideLayout.workspace);
const ideLogOf = (panel: Panel, box: DevContainer) => {
  const file = join(panel.dataDir, 'instances', box.id, 'data', ideLayout.log);
  return existsSync(file) ? readFileSync(file, 'utf8').slice(-4000) : '(no IDE log)';
};
const random = () => Math.floor(Math.random() * 1e9);

/** Opens the container's IDE link in a fresh browser context: the token is spent, the cookie set, and the 303 lands on the workbench. */
async function openInBrowser(panel: Panel, box: DevContainer): Promise<{ context: BrowserContext; page: Page; troubles: Troubles; link: URL }> {
  const { url } = await ideLink(panel.app, panel.user, box.id);
  const link = new URL(url);
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await context.addInitScript({ content: socketCloseRecorder });
  const troubles = watchContext(context, codeServerOwnMisses);
  const page = await context.newPage();
  // The link as the API answered it, verbatim: what the portal opens.
  const answer = await page.goto(url);
  // The redirects' first request is the link's: the panel answers it 303 (then code-server adds its ?folder=).
  let first = answer?.request() ?? null;
  while (first?.redirectedFrom()) first = first.redirectedFrom();
  const spent = await first?.response();
  if (first?.url() !== link.toString() || spent?.status() !== 303) throw new Error(`spending the token answered ${spent?.status()}, not 303 (${first?.url()})`);
  try {
    await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 60_000 });
  } catch (error) {
    throw new Error(`no workbench at ${page.url()}: ${String(error)}\n${JSON.stringify(troubles, null, 2)}\nIDE log:\n${ideLogOf(panel, box)}`, { cause: error });
  }
  return { context, page, troubles, link };
}

/**
 * Runs a command from the command palette (F1), by its title. Extensions' commands appear
 * once the extension host is up, a few seconds after the workbench: until then, try again.
 */
async function runCommand(page: Page, title: string): Promise<void> {
  const input = page.locator('.quick-input-widget input');
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  const deadline = Date.now() + 45_000;
  for (;;) {
    await page.keyboard.press('F1');
    await input.waitFor({ state: 'visible', timeout: 15_000 });
    await input.fill(`>${title}`);
    if (
      await row.waitFor({ state: 'visible', timeout: 3_000 }).then(
        () => true,
        () => false,
      )
    )
      break;
    if (Date.now() > deadline) throw new Error(`no command "${title}" in the palette`);
    await page.keyboard.press('Escape');
  }
  await page.keyboard.press('Enter');
}

function assertNoTroubles(t: { deepEqual: (a: unknown, b: unknown, message?: string) => void }, troubles: Troubles, closes: unknown[]): void {
  t.deepEqual(troubles.failedRequests, [], 'no request failed');
  t.deepEqual(troubles.errorAnswers, [], 'no answer was an error');
  t.deepEqual(troubles.sockets, [], 'no WebSocket erred or closed while its page was open');
  t.deepEqual(closes, [], 'no WebSocket closed abnormally');
  t.deepEqual(troubles.console, [], 'no console error');
}

test.serial('hosted mode with the default IDE settings: the workbench of a real code-server loads from the IDE link verbatim, and its terminal runs a command in the workspace', async (t) => {
  t.timeout(180_000);
  const started = Date.now();
  const panel = await startPanel('hosted');
  const box = await readyContainer(panel.app, panel.user, 'Browser box');
  panel.box = box;
  t.log(`container active with code-server running in ${Date.now() - started} ms`);
  const { context, page, troubles, link } = await openInBrowser(panel, box);
  try {
    t.is(link.origin, `http://dev-${box.vmid}.localhost:${new URL(panel.app.url).port}`, "PUBLIC_URL's scheme and port");
    t.is(new URL(page.url()).host, link.host);
    t.false(page.url().includes('ide_token'), 'the token is gone from the address bar');
    const cookies = await context.cookies(link.origin);
    t.deepEqual(
      cookies.filter((c) => c.name === `ide_${box.vmid}`).map((c) => [c.httpOnly, c.secure, c.sameSite]),
      [[true, false, 'Lax']],
    );
    t.log(`workbench visible ${Date.now() - started} ms after the start`);

    await runCommand(page, 'Terminal: Create New Terminal');
    const terminal = page.locator('.terminal-wrapper.active .xterm');
    await terminal.waitFor({ state: 'visible', timeout: 30_000 });
    await page.locator('.terminal-wrapper.active .xterm-helper-textarea').focus();
    const a = random();
    const b = random();
    // The output differs from the typed line ($((…)) is computed), so finding it proves the shell ran it.
    await page.keyboard.type(`echo panel-$((${a}+1))-ok > probe.txt; echo done-$((${b}+1))`, { delay: 5 });
    await page.keyboard.press('Enter');
    await page.locator('.terminal-wrapper.active .xterm-rows', { hasText: `done-${b + 1}` }).waitFor({ timeout: 30_000 });
    const probe = join(workspaceOf(panel, box), 'probe.txt');
    await eventually(async () => existsSync(probe), 10_000, 'probe.txt in the workspace');
    t.is(readFileSync(probe, 'utf8').trim(), `panel-${a + 1}-ok`);
    t.log(`terminal answered ${Date.now() - started} ms after the start`);

    // A reload is a second full load on the cookie alone, and the workbench reconnects.
    await reload(page);
    await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 60_000 });
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'probe.txt' }).waitFor({ state: 'visible', timeout: 30_000 });
    assertNoTroubles(t, troubles, await abnormalCloses(page));
    t.deepEqual(
      panel.app.logs.filter((l) => l.level >= 40).map((l) => l.msg),
      [],
      'the API logged no warning or error',
    );

    // Stopping the IDE ends its sessions: the open tab's sockets are closed, and the page, loaded again, says to reopen it from the portal.
    const stopped = await call(panel.app, panel.user, 'POST', `/api/dev/${box.id}/codeserver/stop`);
    t.is(stopped.status, 202);
    await eventually(async () => troubles.sockets.length > 0, 10_000, "the IDE tab's WebSockets to be closed");
    const after = await reload(page);
    t.is(after?.status(), 401);
    t.regex(await page.locator('body').innerText(), /open the IDE again/i);
  } finally {
    await context.close();
  }
});

test.serial("path mode: a Markdown file's preview opens in the IDE's webview frame under frame-ancestors 'self'", async (t) => {
  t.timeout(180_000);
  const started = Date.now();
  const panel = await startPanel('path');
  const box = await readyContainer(panel.app, panel.user, 'Path browser box');
  panel.box = box;
  const heading = `Panel preview ${random()}`;
  writeFileSync(join(workspaceOf(panel, box), 'notes.md'), `# ${heading}\n\nSome *Markdown* from the panel's test.\n`);
  const { context, page, troubles, link } = await openInBrowser(panel, box);
  try {
    t.is(link.pathname, `/__ide/${box.id}/`);
    t.true(new URL(page.url()).pathname.startsWith(`/__ide/${box.id}/`), `the IDE stays under its prefix (${page.url()})`);

    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'notes.md' }).click({ timeout: 30_000 });
    await page.locator('.tabs-container .tab', { hasText: 'notes.md' }).waitFor({ state: 'visible', timeout: 15_000 });
    await runCommand(page, 'Markdown: Open Preview to the Side');
    const preview = page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
    await preview.locator('h1', { hasText: heading }).waitFor({ state: 'visible', timeout: 30_000 });
    t.is(await preview.locator('em').first().textContent(), 'Markdown');
    const webview = page.frames().find((f) => f.url().includes('/webview/browser/pre/index.html'));
    t.truthy(webview, 'the webview frame is served by the IDE');
    t.is(new URL(webview?.url() ?? 'http://x/').origin, link.origin, "from the IDE's own origin");
    t.log(`preview shown ${Date.now() - started} ms after the start`);

    assertNoTroubles(t, troubles, await abnormalCloses(page));
    t.deepEqual(
      panel.app.logs.filter((l) => l.level >= 40).map((l) => l.msg),
      [],
      'the API logged no warning or error',
    );
  } finally {
    await context.close();
  }
});
