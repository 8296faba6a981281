import { request as httpRequest } from 'node:http';
import test from 'ava';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { startStreamspace } from './ss-helpers.ts';

let app: TestApp;
/** `/vnc-viewer/_assets/<tag>`, as the page names it. */
let base: string;

test.before(async () => {
  app = await startStreamspace();
  const html = await (await app.request(`/vnc-viewer/${crypto.randomUUID()}`)).text();
  const src = /<script type="module" src="([^"]+)\/viewer\.js"><\/script>/.exec(html)?.[1];
  if (!src) throw new Error(`the page names no module script: ${html}`);
  base = src;
});
test.after.always(async () => {
  await app.close();
});

/** A GET sent with the path exactly as given: fetch would normalise `..` away before sending. */
function rawGet(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(app.url);
    const req = httpRequest({ host: url.hostname, port: url.port, path, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The specifiers of every static `import ... from '...'`, `export ... from '...'` and `import '...'` in a module. */
function importsOf(source: string): string[] {
  const found: string[] = [];
  for (const m of source.matchAll(/(?:^|[\n;])\s*(?:import|export)\s[^'";]*?from\s*['"]([^'"]+)['"]|(?:^|[\n;])\s*import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    found.push((m[1] ?? m[2] ?? m[3]) as string);
  }
  return found;
}

test("the page's module script and noVNC's rfb.js are served as JavaScript, the style as CSS, for good (immutable, ETag; 304 on revalidation)", async (t) => {
  t.regex(base, /^\/vnc-viewer\/_assets\/1\.7\.0-[0-9a-f]{12}$/, 'the path carries the noVNC version and a hash of the files');
  for (const [path, type] of [
    ['viewer.js', 'text/javascript'],
    ['novnc/core/rfb.js', 'text/javascript'],
    ['viewer.css', 'text/css'],
  ] as const) {
    const res = await app.request(`${base}/${path}`);
    t.is(res.status, 200, path);
    t.is(res.headers.get('content-type'), `${type}; charset=utf-8`, path);
    t.is(res.headers.get('cache-control'), 'public, max-age=31536000, immutable', path);
    t.is(res.headers.get('x-content-type-options'), 'nosniff', path);
    const etag = res.headers.get('etag') as string;
    t.regex(etag, /^"[\w-]+"$/, path);
    t.true((await res.text()).length > 0, path);
    const again = await app.request(`${base}/${path}`, { headers: { 'If-None-Match': etag } });
    t.is(again.status, 304, path);
  }
  const script = await (await app.request(`${base}/viewer.js`)).text();
  t.true(importsOf(script).includes('./novnc/core/rfb.js'), 'viewer.js imports noVNC beside itself');
  const head = await app.request(`${base}/novnc/core/rfb.js`, { method: 'HEAD' });
  t.is(head.status, 200);
  t.is(head.headers.get('content-type'), 'text/javascript; charset=utf-8');
});

test('every relative import in the served tree from viewer.js resolves to a JavaScript file the API serves (so a browser can load it all)', async (t) => {
  const seen = new Set<string>();
  const queue = [`${base}/viewer.js`];
  const failures: string[] = [];
  while (queue.length > 0) {
    const path = queue.shift() as string;
    if (seen.has(path)) continue;
    seen.add(path);
    const res = await app.request(path);
    if (res.status !== 200 || !/^text\/javascript\b/.test(res.headers.get('content-type') ?? '')) {
      failures.push(`${path}: ${res.status} ${res.headers.get('content-type')}`);
      continue;
    }
    for (const spec of importsOf(await res.text())) {
      if (!spec.startsWith('./') && !spec.startsWith('../')) {
        failures.push(`${path} imports ${spec}, which a browser cannot resolve without an import map`);
        continue;
      }
      const next = new URL(spec, `http://host${path}`).pathname;
      if (!next.startsWith(`${base}/`)) failures.push(`${path} imports ${spec}, outside ${base}`);
      else queue.push(next);
    }
  }
  t.deepEqual(failures, []);
  t.true(seen.has(`${base}/novnc/core/rfb.js`));
  t.true(seen.has(`${base}/novnc/vendor/pako/lib/zlib/inflate.js`), 'the vendored inflate is reached through the imports');
  t.true(seen.size > 40, `${seen.size} modules`);
});

test("traversal, however it is spelt, and files outside noVNC's core/ and vendor/ are 404 with the envelope", async (t) => {
  const attempts = [
    `${base}/novnc/../package.json`,
    `${base}/novnc/core/../../package.json`,
    `${base}/novnc/core/../../../../../../../etc/passwd`,
    `${base}/novnc/%2e%2e/package.json`,
    `${base}/novnc/core/%2E%2E/%2E%2E/package.json`,
    `${base}/novnc/..%2fpackage.json`,
    `${base}/novnc/core%2f..%2f..%2fpackage.json`,
    `${base}/novnc/core/..%5c..%5cpackage.json`,
    `${base}/novnc/core/%252e%252e/rfb.js`,
    `${base}/novnc/core/./rfb.js`,
    `${base}/novnc/core//rfb.js`,
    `${base}/novnc/core/rfb.js%00`,
    `${base}/novnc/core/rfb.js/`,
    `${base}/novnc/%E0%A4%A/rfb.js`,
    `${base}/novnc/package.json`,
    `${base}/novnc/vendor/pako/README.md`,
    `${base}/novnc/vendor/pako/LICENSE`,
    `${base}/novnc/app/ui.js`,
    `${base}/novnc/docs/API.md`,
    `${base}/novnc/core`,
    `${base}/novnc/`,
    `${base}/viewer.html`,
    `${base}/../../streamspace/index.ts`,
    `${base}/%2e%2e/%2e%2e/%2e%2e/plugins/streamspace/index.ts`,
    `${base}`,
    '/vnc-viewer/_assets',
    '/vnc-viewer/_assets/0.0.0-000000000000/viewer.js',
    `/vnc-viewer/_assets//${base}/viewer.js`,
  ];
  t.is((await rawGet(`${base}/novnc/core/rfb.js`)).status, 200, 'the same way of asking gets a file that is there');
  for (const path of attempts) {
    const res = await rawGet(path);
    t.is(res.status, 404, path);
    t.is(JSON.parse(res.body).code, 'NOT_FOUND', path);
  }
});

test('the assets answer only GET and HEAD', async (t) => {
  const res = await app.request(`${base}/viewer.js`, { method: 'POST' });
  t.is(res.status, 405);
  t.is(res.headers.get('allow'), 'GET, HEAD');
});
