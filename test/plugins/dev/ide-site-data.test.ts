import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createUser, loginAdmin } from '../../helpers/auth.ts';
import { deleteAndWait, killLocalAgents } from '../game/game-helpers.ts';
import { devTestConfig, openIde, readyContainer, startDevApp } from './dev-helpers.ts';

/**
 * A hosted IDE origin (`dev-<vmid>`) that served another container before may hold that
 * tenant's service workers and storage in a browser: the new container's first IDE answer
 * says `Clear-Site-Data: "storage"`, once; a fresh vmid's never does.
 */
test("a reused vmid clears the origin's site data on its first IDE answer only; a fresh one never", async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'panel-ide-reuse-'));
  // A range of one: the second container must get the first one's vmid.
  const app = await startDevApp(devTestConfig('local', { database: { data_dir: dataDir } }, { vmid_min: 700, vmid_max: 700 }));
  try {
    const admin = await loginAdmin(app);
    const alice = await createUser(app, admin);
    const bob = await createUser(app, admin);

    const first = await readyContainer(app, alice, 'First tenant');
    t.is(first.vmid, 700);
    const fresh = await openIde(app, alice, first.id);
    t.is(fresh.answer.status, 303);
    t.is(fresh.answer.headers['clear-site-data'], undefined, 'a fresh vmid has nothing to clear');
    await deleteAndWait(app, alice, first.id, '/api/dev');

    const second = await readyContainer(app, bob, 'Second tenant');
    t.is(second.vmid, 700, 'the vmid is reused');
    const reused = await openIde(app, bob, second.id);
    t.is(reused.answer.status, 303);
    t.is(reused.answer.headers['clear-site-data'], '"storage"');
    const again = await openIde(app, bob, second.id);
    t.is(again.answer.headers['clear-site-data'], undefined, 'only the first answer clears');
    await deleteAndWait(app, bob, second.id, '/api/dev');
  } finally {
    await app.close();
    killLocalAgents(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
  }
});
