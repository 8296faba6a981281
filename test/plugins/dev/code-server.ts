import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page, WebSocket } from 'playwright-core';

const root = fileURLToPath(new URL('../../../', import.meta.url));
export const installScript = 'scripts/install-code-server.sh';

/**
 * The real code-server that scripts/install-code-server.sh installed (.ci/run runs it before
 * the tests). Missing is a failure that says what to run, never a skip.
 */
export function codeServerBin(): string {
  const bin = execFileSync('bash', [join(root, installScript), '--print-bin'], { encoding: 'utf8' }).trim();
  if (!existsSync(bin)) throw new Error(`code-server is not installed (no ${bin}): run \`bash ${installScript}\` first (.ci/run does)`);
  return bin;
}

/** A quiet IDE that asks the internet for nothing and opens straight onto the workspace. */
const settings = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'security.workspace.trust.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'json.schemaDownload.enable': false,
  'typescript.disableAutomaticTypeAcquisition': true,
  'git.enabled': false,
  // The DOM renderer (no WebGL without a GPU), so the terminal's text is in the page.
  'terminal.integrated.gpuAcceleration': 'off',
};

/** Where, in a container's data directory, the IDE keeps its state and opens its folder. */
export const ideLayout = { userData: '.code-server/data', extensions: '.code-server/extensions', log: '.code-server/ide.log', workspace: 'workspace' } as const;

/**
 * The dev template's IDE command: run by the agent's shell in the container's data directory
 * with $PORT. Loopback only, no password (the panel's proxy is the only way in), no telemetry
 * or update check, its user data and extensions in the container's data.
 */
export function codeServerCommand(bin: string): string {
  const l = ideLayout;
  return [
    `mkdir -p "${l.userData}/User" "${l.extensions}" "${l.workspace}"`,
    `&& { [ -f "${l.userData}/User/settings.json" ] || printf '%s' '${JSON.stringify(settings)}' > "${l.userData}/User/settings.json"; }`,
    `&& exec "${bin}" --auth none --bind-addr "127.0.0.1:$PORT" --disable-telemetry --disable-update-check --disable-workspace-trust`,
    `--user-data-dir "$PWD/${l.userData}" --extensions-dir "$PWD/${l.extensions}" "$PWD/${l.workspace}" >>"${l.log}" 2>&1`,
  ].join(' ');
}

/** What went wrong in a browser context, as readable lines: requests, answers, sockets, the console. */
export interface Troubles {
  failedRequests: string[];
  errorAnswers: string[];
  sockets: string[];
  console: string[];
  /** Console errors of a document being left (a reload): not counted. */
  whileUnloading: string[];
}

/**
 * Records every failed request and every answer ≥ 400 of the context (its pages, frames and
 * service workers), every WebSocket that errs or closes while its document is open, and console
 * errors. What `explained(url, problem)` accepts (a problem a test explains: a failure's error
 * text, an answer's status, or 'console') is left out.
 */
export type Explained = (url: string, problem: string) => boolean;

export function watchContext(context: BrowserContext, explained: Explained = () => false): Troubles {
  const troubles: Troubles = { failedRequests: [], errorAnswers: [], sockets: [], console: [], whileUnloading: [] };
  context.on('requestfailed', (r) => {
    const error = r.failure()?.errorText ?? '?';
    if (!explained(r.url(), error)) troubles.failedRequests.push(`${r.method()} ${r.url()}: ${error}`);
  });
  context.on('response', (r) => {
    if (r.status() >= 400 && !explained(r.url(), String(r.status()))) troubles.errorAnswers.push(`${r.request().method()} ${r.url()}: ${r.status()}`);
  });
  context.on('page', (page) => watchPage(page, troubles, explained));
  for (const page of context.pages()) watchPage(page, troubles, explained);
  return troubles;
}

const leavers = new WeakMap<Page, () => void>();

/** Reloads a watched page: what its old document logs and closes on the way out is not counted. */
export async function reload(page: Page): ReturnType<Page['reload']> {
  leavers.get(page)?.();
  return page.reload();
}

function watchPage(page: Page, troubles: Troubles, explained: Explained): void {
  let closing = false;
  page.on('close', () => (closing = true));
  // A document's sockets close when the page navigates away from it (a reload): that is normal.
  const open = new Set<WebSocket>();
  const leaving = new Set<WebSocket>();
  // So do the errors VS Code logs as it shuts a document down ("Long running operations during
  // shutdown are unsupported in the web", a settings write cancelled): code-server asked
  // directly logs them on a reload too. They are kept apart, not counted.
  // VS Code logs them from beforeunload, before the navigation's request: a test that
  // navigates says so first (`leave`).
  let unloading = false;
  const leave = () => {
    for (const ws of open) leaving.add(ws);
    unloading = true;
  };
  leavers.set(page, leave);
  page.on('request', (r) => {
    if (r.isNavigationRequest() && r.frame() === page.mainFrame()) leave();
  });
  page.on('domcontentloaded', () => (unloading = false));
  page.on('websocket', (ws) => {
    open.add(ws);
    ws.on('socketerror', (error) => troubles.sockets.push(`${ws.url()}: error ${error}`));
    ws.on('close', () => {
      open.delete(ws);
      if (!closing && !page.isClosed() && !leaving.has(ws)) troubles.sockets.push(`${ws.url()}: closed while its page was open`);
    });
  });
  page.on('console', (message) => {
    if (message.type() !== 'error' || explained(message.location().url, 'console')) return;
    (unloading ? troubles.whileUnloading : troubles.console).push(`${message.text()} (${message.location().url})`);
  });
  page.on('pageerror', (error) => troubles.console.push(`uncaught: ${error.message}`));
}

/**
 * Installed in every frame before its scripts: keeps each WebSocket close with its code, so a
 * close other than 1000 (normal) or 1001 (going away) shows, with its reason.
 */
export const socketCloseRecorder = `(() => {
  const Native = window.WebSocket;
  const closes = (window.__panelSocketCloses = []);
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('close', (e) => closes.push({ url: this.url, code: e.code, reason: e.reason, clean: e.wasClean }));
    }
  };
})();`;

/**
 * What code-server itself does in a browser, with or without the panel (each seen against
 * code-server asked directly):
 * - VS Code's web workbench loads Microsoft's closed-source `vsda` module (a signer for the
 *   remote handshake) when it is there: code-server does not ship it and answers 404, the
 *   script load is aborted, and the workbench goes on without it;
 * - a webview (pre/index.html) loads `fake.html` into a frame and, on its DOMContentLoaded,
 *   writes the real document over it (document.open/write), or drops the pending frame when
 *   new content comes: that load can end aborted;
 * - the workbench loads `blob:` object URLs it made itself (worker and icon sources) and may
 *   revoke one while its load is pending: aborted, but never a request that left the browser,
 *   let alone one through the panel (seen once in CI).
 */
export const codeServerOwnMisses: Explained = (url, problem) => {
  if (url.startsWith('blob:')) return problem === 'net::ERR_ABORTED';
  const path = new URL(url, 'http://x').pathname;
  if (/\/static\/node_modules\/vsda\/rust\/web\/vsda(\.js|_bg\.wasm)$/.test(path)) return ['404', 'net::ERR_ABORTED', 'console'].includes(problem);
  return path.endsWith('/vs/workbench/contrib/webview/browser/pre/fake.html') && problem === 'net::ERR_ABORTED';
};

export interface SocketClose {
  url: string;
  code: number;
  reason: string;
  clean: boolean;
}

/** Closes the page recorded that were not normal (1000) or a page leaving (1001). */
export async function abnormalCloses(page: Page): Promise<SocketClose[]> {
  const closes = await page.evaluate<SocketClose[]>('window.__panelSocketCloses || []');
  return closes.filter((c) => c.code !== 1000 && c.code !== 1001);
}
