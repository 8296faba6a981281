import test from 'ava';
import { createTestDatabase } from '../../helpers/test-database.ts';
import { call, startStreamspace, v1, v1Admin } from './ss-helpers.ts';

test("the shipped templates are seeded once: an admin's edit and an admin's deletion survive a restart", async (t) => {
  const db = await createTestDatabase();
  try {
    const first = await startStreamspace({}, {}, db);
    try {
      const admin = await v1Admin(first);
      t.is((await call(first, 'PATCH', `${v1}/templates/firefox-browser`, admin.token, { display_name: 'Firefox (ours)' })).status, 200);
      t.is((await call(first, 'DELETE', `${v1}/templates/chromium-browser`, admin.token)).status, 204);
    } finally {
      await first.close();
    }
    const restarted = await startStreamspace({}, {}, db);
    try {
      const admin = await v1Admin(restarted);
      const names = (await call(restarted, 'GET', `${v1}/templates`, admin.token)).body.templates as Array<{ name: string; display_name: string }>;
      t.false(
        names.some((x) => x.name === 'chromium-browser'),
        'the deleted template did not come back',
      );
      t.is(names.find((x) => x.name === 'firefox-browser')?.display_name, 'Firefox (ours)');
      t.true(names.some((x) => x.name === 'ubuntu-xfce-desktop'));
    } finally {
      await restarted.close();
    }
  } finally {
    await db.drop();
  }
});
