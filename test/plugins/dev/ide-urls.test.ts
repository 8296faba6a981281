import test from 'ava';
import { IdeUrls } from '../../../plugins/dev/ide-urls.ts';
import { loadConfig } from '../../../src/config/load.ts';

/**
 * Which IDE link a configuration hands out. Unset `ide.scheme` and `ide.public_port` follow
 * PUBLIC_URL, so the link from a plain `npm start` opens (`http://dev-<vmid>.localhost:8080/`,
 * not an https URL nothing listens on); set, they win. The real thing in a browser is
 * ide-browser.test.ts.
 */
function linkOf(env: Record<string, string>): string {
  const config = loadConfig({ env });
  return new IdeUrls(config.ide, config.server.public_url).linkFor('5b1f3c9e-0d6a-4f0e-9a53-2a4f1c7e8b10', 104, 'tok').url;
}

test("the defaults (npm start: PUBLIC_URL http://localhost:8080) give an http link on PUBLIC_URL's port", (t) => {
  t.is(linkOf({}), 'http://dev-104.localhost:8080/?ide_token=tok');
});

test('an https PUBLIC_URL gives https links on its port, or none for 443', (t) => {
  t.is(linkOf({ PUBLIC_URL: 'https://panel.example.com', DEV_IDE_SUFFIX: 'ide.example.com' }), 'https://dev-104.ide.example.com/?ide_token=tok');
  t.is(linkOf({ PUBLIC_URL: 'https://panel.example.com:8443', DEV_IDE_SUFFIX: 'ide.example.com' }), 'https://dev-104.ide.example.com:8443/?ide_token=tok');
  t.is(linkOf({ PUBLIC_URL: 'http://localhost' }), 'http://dev-104.localhost/?ide_token=tok');
});

test("PANEL_IDE_SCHEME and PANEL_IDE_PUBLIC_PORT still override; PUBLIC_URL's port never goes with another scheme", (t) => {
  // A TLS proxy in front of an http API: the IDE's scheme is the proxy's, on its default port.
  t.is(linkOf({ PANEL_IDE_SCHEME: 'https' }), 'https://dev-104.localhost/?ide_token=tok');
  t.is(linkOf({ PANEL_IDE_SCHEME: 'https', PANEL_IDE_PUBLIC_PORT: '9443' }), 'https://dev-104.localhost:9443/?ide_token=tok');
  t.is(linkOf({ PANEL_IDE_PUBLIC_PORT: '3000' }), 'http://dev-104.localhost:3000/?ide_token=tok');
  t.is(linkOf({ PANEL_IDE_PUBLIC_PORT: '80' }), 'http://dev-104.localhost/?ide_token=tok');
  t.is(linkOf({ PUBLIC_URL: 'https://panel.example.com', PANEL_IDE_SCHEME: 'http', PANEL_IDE_PUBLIC_PORT: '8080' }), 'http://dev-104.localhost:8080/?ide_token=tok');
});

test('the cookie and Origin checks use the scheme the link has', (t) => {
  const config = loadConfig({ env: {} });
  const urls = new IdeUrls(config.ide, config.server.public_url);
  t.is(urls.scheme, 'http');
  t.true(urls.isHostedOrigin('http://dev-104.localhost:8080', 104), "the browser's Origin carries the port");
  t.false(urls.isHostedOrigin('https://dev-104.localhost:8080', 104));
  t.is(urls.hostedHost(104), 'dev-104.localhost:8080');
  // The front door hands over the Host without its port: `dev-104.localhost:8080` routes as `dev-104.localhost`.
  t.is(urls.vmidOf('dev-104.localhost'), 104);
  t.is(urls.vmidOf('dev-104.localhost:8080'), null, 'a port is removed before matching, never part of the suffix');
});
