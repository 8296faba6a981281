import test from 'ava';
import { z } from 'zod';
import { definePlugin, defineRoute, type PanelPlugin } from '../../../src/plugin-api/index.ts';
import { PluginBootError } from '../../../src/core/plugin-host/plugin-host.ts';
import { examplePlugin } from '../../fixtures/example-plugin/index.ts';
import { startTestApp } from '../../helpers/start-test-app.ts';

const pong = (path: string) => defineRoute({ method: 'get', path, summary: 'pong', auth: 'none', responses: { 200: z.object({ pong: z.string() }) }, handler: async () => ({ body: { pong: path } }) });

const plugin = (id: string, extra: Partial<PanelPlugin> = {}, routes = [pong('/ping')]): PanelPlugin => definePlugin({ id, setup: () => ({ routes }), ...extra });

async function bootError(t: import('ava').ExecutionContext, plugins: PanelPlugin[], config = {}): Promise<string> {
  const err = await t.throwsAsync(startTestApp({ plugins, config }), { instanceOf: PluginBootError });
  return err?.message ?? '';
}

test('plugins with the same id stop boot', async (t) => {
  t.regex(await bootError(t, [plugin('twin'), plugin('twin')]), /two plugins have the id "twin"/);
});

test('enabling a plugin that does not exist names the ones that do', async (t) => {
  const err = await t.throwsAsync(startTestApp({ plugins: [plugin('real')], enabled: ['real', 'ghost'] }), { instanceOf: PluginBootError });
  t.regex(err?.message ?? '', /"ghost", which does not exist \(available: real\)/);
});

test('bad plugin settings stop boot with the full key', async (t) => {
  const message = await bootError(t, [examplePlugin], { plugins: { config: { example: { greeting: 42 } } } });
  t.regex(message, /plugins\.config\.example\.greeting: .*string/);
});

test('clashing prefixes stop boot: between plugins and with the core', async (t) => {
  const message = await bootError(t, [plugin('one', { prefixes: ['/api/shared'] }), plugin('two', { prefixes: ['/api/shared/sub'] }), plugin('auth')]);
  t.regex(message, /prefix \/api\/shared\/sub clashes with plugin "one"'s \/api\/shared/);
  t.regex(message, /prefix \/api\/auth clashes with the core's \/api\/auth/);
});

test('routes outside declared prefixes, duplicate routes and unprefixed job ids are all reported together', async (t) => {
  const bad = definePlugin({
    id: 'messy',
    prefixes: ['/api/v9'],
    setup: () => ({
      routes: [pong('/elsewhere/ping'), pong('/api/v9/ping'), pong('/api/v9/ping')],
      jobs: [{ id: 'other.job', every_ms: 1000, timeout_ms: 100, once_across_replicas: false, run: async () => {} }],
    }),
  });
  const message = await bootError(t, [bad]);
  t.regex(message, /\/elsewhere\/ping is outside its prefixes/);
  t.regex(message, /GET \/api\/v9\/ping clashes with a route of "messy"/);
  t.regex(message, /job id "other\.job" must start with "messy\."/);
});

test('plugins mount under /api/<id> by default, or at their declared absolute prefixes', async (t) => {
  const streamLike = plugin('streamish', { prefixes: ['/api/v1', '/vnc-viewer'] }, [pong('/api/v1/sessions'), pong('/vnc-viewer/:session_id')]);
  const app = await startTestApp({ plugins: [plugin('alpha'), streamLike] });
  t.teardown(() => app.close());
  t.deepEqual(await (await app.request('/api/alpha/ping')).json(), { pong: '/ping' });
  t.deepEqual(await (await app.request('/api/v1/sessions')).json(), { pong: '/api/v1/sessions' });
  t.is((await app.request('/vnc-viewer/abc')).status, 200);
  t.is((await app.request('/api/streamish/ping')).status, 404);
});

test('plugins are disposed in reverse order of setup on shutdown', async (t) => {
  const order: string[] = [];
  const disposing = (id: string) => definePlugin({ id, setup: () => ({ dispose: async () => void order.push(id) }) });
  const app = await startTestApp({ plugins: [disposing('first'), disposing('second'), disposing('third')] });
  await app.close();
  t.deepEqual(order, ['third', 'second', 'first']);
});

test('a plugin gets its validated config with defaults applied', async (t) => {
  let seen: unknown;
  const configured = definePlugin({
    id: 'configured',
    configSchema: z.strictObject({ size: z.number().default(3), name: z.string() }),
    setup: (ctx) => {
      seen = ctx.config;
      return {};
    },
  });
  const app = await startTestApp({ plugins: [configured], config: { plugins: { config: { configured: { name: 'x' } } } } });
  await app.close();
  t.deepEqual(seen, { size: 3, name: 'x' });
});
