import test from 'ava';
import { ConfigError, loadConfig } from '../../src/config/load.ts';
import { listSettings } from '../../src/config/settings.ts';

test('the shipped defaults are valid and match API.md', (t) => {
  const config = loadConfig({ env: {} });
  t.is(config.server.port, 8080);
  t.is(config.server.host, '0.0.0.0');
  t.is(config.server.public_url, 'http://localhost:8080');
  t.is(config.database.url, null);
  t.is(config.database.data_dir, './data');
  t.is(config.log.level, 'info');
  t.is(config.metrics.token, null);
});

test('fixed environment names override the file', (t) => {
  const config = loadConfig({
    env: {
      PORT: '9090',
      HOST: '127.0.0.1',
      DATABASE_URL: 'postgres://u@db:5432/panel',
      DATA_DIR: '/var/lib/panel',
      ALLOWED_ORIGINS: 'https://portal.example.com, https://admin.example.com',
      METRICS_TOKEN: 'a-long-metrics-token',
      LOG_LEVEL: 'warn',
      PANEL_SERVER_PROXY_HOPS: '1',
      PANEL_RATE_LIMITS: '{"login": {"limit": 5, "window_s": 60}}',
    },
  });
  t.is(config.server.port, 9090);
  t.is(config.server.host, '127.0.0.1');
  t.is(config.database.url, 'postgres://u@db:5432/panel');
  t.is(config.database.data_dir, '/var/lib/panel');
  t.deepEqual(config.server.allowed_origins, ['https://portal.example.com', 'https://admin.example.com']);
  t.is(config.metrics.token, 'a-long-metrics-token');
  t.is(config.log.level, 'warn');
  t.is(config.server.proxy_hops, 1);
  t.deepEqual(config.rate_limits.login, { limit: 5, window_s: 60 });
});

test('an empty value for a nullable setting means unset', (t) => {
  t.is(loadConfig({ env: { DATABASE_URL: '' } }).database.url, null);
});

test('every bad value is reported at once, with its env name and what was expected', (t) => {
  const err = t.throws(() => loadConfig({ env: { PORT: 'eighty', PUBLIC_URL: 'not a url', LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://x' } }), { instanceOf: ConfigError });
  t.is(err?.problems.length, 4);
  t.regex(err?.message ?? '', /server\.port \(env PORT\): .*number.*\(got "eighty"\)/);
  t.regex(err?.message ?? '', /server\.public_url \(env PUBLIC_URL\)/);
  t.regex(err?.message ?? '', /log\.level \(env LOG_LEVEL\): .*"info"/);
  // The database URL may carry a password: it is never echoed back.
  t.regex(err?.message ?? '', /database\.url \(env DATABASE_URL\): expected a postgres:\/\/ URL$/m);
  t.notRegex(err?.message ?? '', /mysql/);
});

test('an unknown key in a config file is an error, not silently ignored', (t) => {
  const err = t.throws(() => loadConfig({ env: {}, overrides: [{ server: { prot: 1 } } as never] }), { instanceOf: ConfigError });
  t.regex(err?.message ?? '', /prot/);
});

test('CONFIG_FILE that does not exist stops boot with its path', (t) => {
  const err = t.throws(() => loadConfig({ env: { CONFIG_FILE: '/nonexistent/panel.json' } }), { instanceOf: ConfigError });
  t.regex(err?.message ?? '', /\/nonexistent\/panel\.json/);
});

test('the loaded config is deeply frozen', (t) => {
  const config = loadConfig({ env: {} });
  t.throws(() => {
    (config.server as { port: number }).port = 1;
  });
});

test('every setting has a unique env name and a description', (t) => {
  const settings = listSettings();
  t.is(new Set(settings.map((s) => s.env)).size, settings.length);
  for (const s of settings) t.true(s.description.length > 10, `${s.key} needs a description`);
});

test('a headers timeout longer than the request timeout stops boot (Node would refuse it later, less clearly)', (t) => {
  const err = t.throws(() => loadConfig({ env: { PANEL_SERVER_HEADERS_TIMEOUT_MS: '5000', PANEL_SERVER_REQUEST_TIMEOUT_MS: '1000' } }), { instanceOf: ConfigError });
  t.regex(err?.message ?? '', /server\.headers_timeout_ms .*not be longer than request_timeout_ms/);
  t.is(loadConfig({ env: { PANEL_SERVER_HEADERS_TIMEOUT_MS: '5000', PANEL_SERVER_REQUEST_TIMEOUT_MS: '0' } }).server.request_timeout_ms, 0);
});
