import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createUser, loginAdmin } from '../../helpers/auth.ts';
import { deleteAndWait, killLocalAgents } from '../game/game-helpers.ts';
import { devTestConfig, ideRequest, openIde, readyContainer, startDevApp } from './dev-helpers.ts';

/**
 * The IDE cookie follows the IDE's scheme: `Secure` with the `__Host-` prefix over https,
 * never Secure over http (a browser would drop it on any host but localhost). IDE requests
 * are logged at debug, with their Host; an http IDE off localhost is warned about at boot.
 */
test('over https the hosted IDE cookie is __Host- and Secure; IDE access lines are debug and name the Host', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'panel-ide-https-'));
  const app = await startDevApp(
    devTestConfig('local', {
      database: { data_dir: dataDir },
      ide: { suffix: 'ide.test', scheme: 'https', return_hosted_url: true, path_mode_enabled: false, path_mode_host: null, public_port: null },
    }),
  );
  try {
    const user = await createUser(app, await loginAdmin(app));
    const box = await readyContainer(app, user, 'Https box');
    const opened = await openIde(app, user, box.id);
    t.regex(opened.answer.headers['set-cookie']?.[0] ?? '', new RegExp(`^__Host-ide_${box.vmid}=[A-Za-z0-9_-]{40,}; Path=/; Max-Age=\\d+; HttpOnly; Secure; SameSite=Lax$`));
    const page = await ideRequest(app, opened.host, '/', { Cookie: opened.cookie });
    t.is(page.status, 200);
    const line = app.logs.find((l) => l.msg === 'request' && l.host === opened.host && l.status === 200);
    t.truthy(line, 'the proxied request has an access line with its Host');
    t.is(line?.level, 20, 'at debug');
    t.false(
      app.logs.some((l) => l.msg.includes('IDE over http')),
      'no http warning over https',
    );
    await deleteAndWait(app, user, box.id, '/api/dev');
  } finally {
    await app.close();
    killLocalAgents(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('an http IDE on a host that is not localhost is warned about at boot: its cookie would travel in clear', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'panel-ide-http-'));
  const app = await startDevApp(devTestConfig('static', { database: { data_dir: dataDir } }));
  try {
    const warning = app.logs.find((l) => l.msg.includes('IDE over http'));
    t.truthy(warning);
    t.is(warning?.level, 40);
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
