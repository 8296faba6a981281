import test from 'ava';
import { readFileSync } from 'node:fs';
import type { TestApp } from '../../helpers/start-test-app.ts';
import { call, connectAgent, v1, waitState, type V1Session } from './ss-helpers.ts';
import { assertError, startWithUser, unique, type Page } from './admin-helpers.ts';

/** Seed "Template Management" and the addendum's template administration (users and agent keys: admin-routes.test.ts). */
interface TemplateView {
  name: string;
  category: string;
  display_name: string;
  base_image: string;
  description: string;
  vnc: { enabled: boolean; port: number };
  default_resources: Record<string, string>;
  tags: string[];
}

const shipped = JSON.parse(readFileSync(new URL('../../../config/streamspace-templates.json', import.meta.url), 'utf8')) as TemplateView[];

let app: TestApp;
let admin: V1Session;
let user: V1Session;

test.before(async () => {
  ({ app, admin, user } = await startWithUser());
});
test.after.always(() => app?.close());

// Names start with "zz-" so they sort after the shipped templates and never shift their pages.
const newTemplate = (name: string): Record<string, unknown> => ({
  name,
  display_name: 'Test Desktop',
  category: `Tests ${name}`,
  description: 'made by admin-routes-templates.test.ts',
  base_image: 'example/desktop:1',
  default_resources: { memory: '1Gi', cpu: '500m' },
  vnc: { enabled: true, port: 5900 },
  tags: ['test'],
});

test('the shipped templates are listed, 50 per page by default', async (t) => {
  const res = await call(app, 'GET', `${v1}/templates`, user.token);
  t.is(res.status, 200);
  t.like(res.body.pagination as Page, { page: 1, limit: 50 });
  const names = (res.body.templates as TemplateView[]).map((x) => x.name);
  for (const s of shipped) t.true(names.includes(s.name), s.name);
});

test('a template list limit above 100 is clamped to 100, and pages split the list', async (t) => {
  t.is(((await call(app, 'GET', `${v1}/templates?limit=500`, user.token)).body.pagination as Page).limit, 100);
  const one = await call(app, 'GET', `${v1}/templates?limit=1&page=1`, user.token);
  const two = await call(app, 'GET', `${v1}/templates?limit=1&page=2`, user.token);
  t.like(one.body.pagination as Page, { page: 1, limit: 1 });
  t.is((one.body.pagination as Page).total_pages, (one.body.pagination as Page).total);
  t.is(one.body.templates.length, 1);
  t.is(two.body.templates.length, 1);
  t.not(one.body.templates[0].name, two.body.templates[0].name);
});

test('the category filter lists only templates of that category', async (t) => {
  const res = await call(app, 'GET', `${v1}/templates?category=${encodeURIComponent('Web Browsers')}`, user.token);
  const templates = res.body.templates as TemplateView[];
  t.true(templates.every((x) => x.category === 'Web Browsers'));
  const expected = shipped.filter((s) => s.category === 'Web Browsers').map((s) => s.name);
  t.deepEqual(
    templates
      .map((x) => x.name)
      .filter((name) => expected.includes(name))
      .sort(),
    [...expected].sort(),
  );
  t.is((res.body.pagination as Page).total, templates.length);
});

test('a template is read by name, as configured', async (t) => {
  const firefox = shipped.find((s) => s.name === 'firefox-browser') as TemplateView;
  const res = await call(app, 'GET', `${v1}/templates/firefox-browser`, user.token);
  t.is(res.status, 200);
  t.like(res.body as TemplateView, {
    name: firefox.name,
    display_name: firefox.display_name,
    category: firefox.category,
    base_image: firefox.base_image,
    vnc: firefox.vnc,
    default_resources: firefox.default_resources,
    tags: firefox.tags,
  });
});

test('an admin creates (201), changes only the named fields (PATCH) and deletes (204) a template', async (t) => {
  const name = unique('zz-crud-');
  const created = await call(app, 'POST', `${v1}/templates`, admin.token, newTemplate(name));
  t.is(created.status, 201, JSON.stringify(created.body));
  t.like(created.body as TemplateView, { name, display_name: 'Test Desktop', base_image: 'example/desktop:1', vnc: { enabled: true, port: 5900 } });
  const patched = await call(app, 'PATCH', `${v1}/templates/${name}`, admin.token, { display_name: 'Renamed', vnc: { enabled: true, port: 5901 } });
  t.is(patched.status, 200, JSON.stringify(patched.body));
  const read = await call(app, 'GET', `${v1}/templates/${name}`, user.token);
  t.like(read.body as TemplateView, { display_name: 'Renamed', vnc: { enabled: true, port: 5901 } });
  const { display_name: _a, vnc: _b, updated_at: _c, ...untouched } = created.body as Record<string, unknown>;
  t.like(read.body as Record<string, unknown>, untouched, 'every field not named is unchanged');
  t.is((await call(app, 'DELETE', `${v1}/templates/${name}`, admin.token)).status, 204);
  assertError(t, await call(app, 'GET', `${v1}/templates/${name}`, user.token), 404, 'TEMPLATE_NOT_FOUND');
});

test('a non-admin cannot create, change or delete templates (403)', async (t) => {
  assertError(t, await call(app, 'POST', `${v1}/templates`, user.token, newTemplate(unique('zz-no-'))), 403, 'AUTH_INSUFFICIENT_PERMISSIONS');
  assertError(t, await call(app, 'PATCH', `${v1}/templates/firefox-browser`, user.token, { display_name: 'Mine now' }), 403, 'AUTH_INSUFFICIENT_PERMISSIONS');
  assertError(t, await call(app, 'DELETE', `${v1}/templates/firefox-browser`, user.token), 403, 'AUTH_INSUFFICIENT_PERMISSIONS');
  const firefox = await call(app, 'GET', `${v1}/templates/firefox-browser`, user.token);
  t.is(firefox.body.display_name, 'Firefox Web Browser');
});

test('a template used by a live session cannot be deleted: 409 TEMPLATE_IN_USE, and can once the session ended', async (t) => {
  const name = unique('zz-used-');
  t.is((await call(app, 'POST', `${v1}/templates`, admin.token, newTemplate(name))).status, 201);
  const agentId = unique('ad-inuse-');
  const agent = await connectAgent(app, admin, { agentId, region: agentId });
  try {
    const session = await call(app, 'POST', `${v1}/sessions`, user.token, { template: name, region: agentId });
    t.is(session.status, 202, JSON.stringify(session.body));
    assertError(t, await call(app, 'DELETE', `${v1}/templates/${name}`, admin.token), 409, 'TEMPLATE_IN_USE');
    t.is((await call(app, 'GET', `${v1}/templates/${name}`, user.token)).status, 200, 'still there');
    await waitState(app, user.token, session.body.id as string, 'running');
    t.is((await call(app, 'DELETE', `${v1}/sessions/${session.body.id as string}`, user.token)).status, 204);
    await waitState(app, user.token, session.body.id as string, 'terminated');
    t.is((await call(app, 'DELETE', `${v1}/templates/${name}`, admin.token)).status, 204);
  } finally {
    await agent.stop();
  }
});
