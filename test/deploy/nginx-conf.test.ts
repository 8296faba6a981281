import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkNginxConfig } from '../../scripts/lib/nginx-process.ts';
import { deployNginxConf, renderPanelSite, type PanelSiteValues } from '../../scripts/lib/nginx-site.ts';

// deploy/nginx.conf itself: what its header promises and what the API's settings need of it.
// nginx-cluster.test.ts runs it in front of real replicas.

const template = readFileSync(deployNginxConf, 'utf8');
const defaults = JSON.parse(readFileSync(new URL('../../config/default.json', import.meta.url), 'utf8')) as {
  server: { body_limit_bytes: number };
  files: { max_upload_bytes: number };
};
const values: PanelSiteValues = {
  listen: '127.0.0.1:18080',
  replicas: ['127.0.0.1:18081', '127.0.0.1:18082', '127.0.0.1:18083'],
  publicHost: 'panel.example.com',
  ideSuffix: 'ide.example.com',
  accessLog: '/dev/null',
};

/** nginx sizes: k, m and g are powers of 1024. */
function nginxBytes(size: string): number {
  const [, digits, unit = ''] = /^(\d+)([kmg]?)$/i.exec(size) ?? [];
  return Number(digits) * 1024 ** ['', 'k', 'm', 'g'].indexOf(unit.toLowerCase());
}

const includeSite = (site: string) => (dir: string) => {
  writeFileSync(join(dir, 'panel.conf'), site);
  return `  include ${join(dir, 'panel.conf')};`;
};

test("nginx's body cap is the largest body the API takes, so the API answers every 413 itself", (t) => {
  const size = /^\s*client_max_body_size\s+(\S+);/m.exec(template)?.[1];
  t.truthy(size, 'deploy/nginx.conf sets no client_max_body_size (nginx would refuse bodies over 1 MiB with its own page)');
  t.is(nginxBytes(size as string), defaults.files.max_upload_bytes);
  t.true(nginxBytes(size as string) >= defaults.server.body_limit_bytes);
});

test('filled in, the file is a valid nginx config, one server line per replica', (t) => {
  const site = renderPanelSite(template, values);
  t.notRegex(
    site
      .split('\n')
      .filter((l) => !l.trimStart().startsWith('#'))
      .join('\n'),
    /\{\{/,
  );
  t.is(site.match(/server 127\.0\.0\.1:1808[123] max_fails/g)?.length, 3);
  t.true(site.includes('"~^dev-[0-9]+\\.ide\\.example\\.com$"'));
  // Same line count as the file, so nginx's line numbers in errors point into deploy/nginx.conf.
  t.is(site.split('\n').length, template.split('\n').length);
  const check = checkNginxConfig(includeSite(site));
  t.true(check.ok, check.output);
});

test('as copied, with the placeholders left in, nginx refuses the file', (t) => {
  t.false(checkNginxConfig(includeSite(template)).ok);
});

test('every placeholder the header documents is one the renderer fills, and no other is used', (t) => {
  const lines = template.split('\n');
  const documented = new Set(lines.filter((l) => /^#\s+\{\{[a-z_]+\}\}/.test(l)).map((l) => /\{\{([a-z_]+)\}\}/.exec(l)?.[1]));
  const used = new Set(lines.filter((l) => !l.trimStart().startsWith('#')).flatMap((l) => [...l.matchAll(/\{\{([a-z_]+)\}\}/g)].map((m) => m[1])));
  t.deepEqual([...used].sort(), [...documented].sort());
  t.throws(() => renderPanelSite(`${template}\nlisten {{port}};\n`, values), { message: /no value for \{\{port\}\}/ });
});
