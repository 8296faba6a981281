import test from 'ava';
import { chromium, type Browser } from 'playwright-core';
import { startTestApp, type TestApp } from '../../helpers/start-test-app.ts';

/**
 * `GET /docs` as a person opens it: Debian's Chromium (through playwright-core, never a
 * downloaded browser) loads the page from a real server, and it must show the API's routes
 * using nothing but the API itself, within its Content-Security-Policy.
 */
let app: TestApp;
let browser: Browser;

interface OpenApi {
  paths: Record<string, Record<string, { summary: string; tags: string[] }>>;
}

test.before(async () => {
  app = await startTestApp();
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
});
test.after.always(async () => {
  await browser?.close();
  await app?.close();
});

/** The `<script src>` and stylesheet paths of the page, in order. */
function assetPaths(html: string): string[] {
  return [...html.matchAll(/(?:src|href)="(\/docs\/assets\/[^"]+)"/g)].map((m) => m[1] as string);
}

const loopback = new Set(['127.0.0.1', 'localhost', '[::1]']);

test("the page shows the live document's routes, loading nothing from elsewhere and breaking no CSP rule", async (t) => {
  const doc = (await (await app.request('/openapi.json')).json()) as OpenApi;
  const login = doc.paths['/api/auth/login']?.post?.summary;
  if (!login) throw new Error('the document has no POST /api/auth/login');

  const context = await browser.newContext();
  const violations: string[] = [];
  const outside: string[] = [];
  const errors: string[] = [];
  // Before any page script: a blocked load never becomes a request, so the event is how it shows.
  await context.exposeBinding('reportViolation', (_source, line: string) => void violations.push(line));
  // A string, as this project compiles without the DOM's types; init scripts are exempt from the page's CSP.
  await context.addInitScript(
    `document.addEventListener('securitypolicyviolation', (e) => reportViolation(e.effectiveDirective + ' blocked ' + (e.blockedURI || '(inline)') + ' at ' + e.sourceFile + ':' + e.lineNumber));`,
  );
  const page = await context.newPage();
  page.on('request', (request) => {
    const url = new URL(request.url());
    if ((url.protocol === 'http:' || url.protocol === 'https:' || url.protocol === 'ws:' || url.protocol === 'wss:') && !loopback.has(url.hostname)) outside.push(request.url());
  });
  // Chromium logs a CSP refusal and a failed load as a console error: this catches what the event does not see.
  page.on('console', (message) => void (message.type() === 'error' && errors.push(message.text())));
  page.on('pageerror', (error) => void errors.push(`uncaught: ${error.message}`));
  try {
    const response = await page.goto(`${app.url}/docs`);
    t.is(response?.status(), 200);
    // docs.js says `ready` or `error` once Redoc is done (or missing): a broken page fails here at once.
    await page.locator('body[data-state="ready"], body[data-state="error"]').waitFor({ state: 'attached', timeout: 30_000 });
    t.is(await page.locator('body').getAttribute('data-state'), 'ready', `the page failed: ${errors.join('; ')}`);
    // The operation's heading in the middle column (the sidebar keeps other tags' entries folded, hidden).
    await page.locator('h2').filter({ hasText: login }).waitFor({ state: 'visible', timeout: 10_000 });
    // Redoc's search runs in a worker built from a Blob: it must work under the policy too.
    const term = login.split(/\W+/).reduce((a, b) => (b.length > a.length ? b : a));
    await page.getByPlaceholder('Search...').fill(term);
    // Its entry in the sidebar is folded away (hidden) until the search lists it.
    await page.locator('.menu-content').getByText(login, { exact: true }).filter({ visible: true }).first().waitFor({ state: 'visible', timeout: 10_000 });
    t.true(await page.locator('h1').filter({ hasText: 'Hosting panel API' }).isVisible(), "the document's title is shown");
  } finally {
    await context.close();
  }
  t.deepEqual(outside, [], 'no request to another host');
  t.deepEqual(violations, [], 'no Content-Security-Policy violation');
  t.deepEqual(errors, [], 'no console error');
});

test('/docs answers a strict policy, and its files with their type, an ETag and immutable caching', async (t) => {
  const res = await app.request('/docs');
  t.is(res.status, 200);
  t.regex(res.headers.get('content-type') ?? '', /^text\/html/);
  t.is(res.headers.get('cache-control'), 'no-store');
  t.is(res.headers.get('x-content-type-options'), 'nosniff');
  const csp = res.headers.get('content-security-policy') ?? '';
  const directives = new Map(
    csp
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .map(([name, ...values]) => [name as string, values]),
  );
  t.deepEqual(directives.get('default-src'), ["'none'"]);
  t.deepEqual(directives.get('script-src'), ["'self'"]);
  t.deepEqual(directives.get('connect-src'), ["'self'"]);
  t.deepEqual(directives.get('img-src'), ["'self'", 'data:']);
  t.deepEqual(directives.get('font-src'), ["'self'"]);
  t.deepEqual(directives.get('frame-ancestors'), ["'none'"]);
  t.deepEqual(directives.get('base-uri'), ["'none'"]);
  t.deepEqual(directives.get('form-action'), ["'none'"]);
  const style = directives.get('style-src') ?? [];
  t.is(style[0], "'self'");
  t.regex(style[1] ?? '', /^'nonce-[A-Za-z0-9+/]{22}=='$/);
  t.false(style.includes("'unsafe-inline'"));
  t.true(
    style.slice(2).every((source) => /^'sha256-[A-Za-z0-9+/]{43}='$/.test(source)),
    'beyond the nonce, only hashes',
  );
  const html = await res.text();
  t.false(/<script(?![^>]*\ssrc=)[^>]*>/.test(html), 'no inline script');
  t.notRegex(html, /\{\{/);
  // A fresh nonce for every answer.
  const again = (await app.request('/docs')).headers.get('content-security-policy');
  t.not(again, csp);

  const assets = assetPaths(html);
  t.is(assets.length, 3);
  const bundle = assets.find((path) => path.endsWith('/redoc.standalone.js')) as string;
  const script = await app.request(bundle);
  t.is(script.status, 200);
  t.is(script.headers.get('content-type'), 'text/javascript; charset=utf-8');
  t.is(script.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  const body = await script.text();
  t.true(body.length > 500_000, 'the whole Redoc bundle');
  t.false(body.includes('cdn.redoc.ly'), "the bundle loads nothing from Redocly's CDN");
  const etag = script.headers.get('etag') as string;
  t.regex(etag, /^"[\w-]{27}"$/);
  t.is((await app.request(bundle, { headers: { 'If-None-Match': etag } })).status, 304);
  const css = await app.request(assets.find((path) => path.endsWith('.css')) as string);
  t.is(css.headers.get('content-type'), 'text/css; charset=utf-8');
  await css.arrayBuffer();

  for (const wrong of ['/docs/assets/redoc.standalone.js', `${bundle}x`, bundle.replace('redoc.standalone.js', '..%2Fdocs.js'), `${bundle.slice(0, bundle.lastIndexOf('/'))}/package.json`]) {
    const missing = await app.request(wrong);
    t.is(missing.status, 404, wrong);
    t.is(((await missing.json()) as { code: string }).code, 'NOT_FOUND');
  }
  const posted = await app.request(bundle, { method: 'POST' });
  t.is(posted.status, 405);
  await posted.arrayBuffer();
});

test('the OpenAPI document lists /docs as a public service page', async (t) => {
  const doc = (await (await app.request('/openapi.json')).json()) as OpenApi & {
    paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, { content?: Record<string, unknown> }> }>>;
  };
  const operation = doc.paths['/docs']?.get;
  t.truthy(operation?.summary);
  t.deepEqual(operation?.tags, ['service']);
  t.deepEqual(operation?.security, []);
  t.truthy(operation?.responses['200']?.content?.['text/html']);
});
