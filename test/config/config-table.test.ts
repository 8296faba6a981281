import test from 'ava';
import { readFileSync } from 'node:fs';
import { renderConfigTable, tableInReadme } from '../../src/config/config-table.ts';
import { listSettings } from '../../src/config/settings.ts';

test('the README configuration table matches the schema and defaults (npm run config-table -- --write fixes it)', (t) => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  t.is(tableInReadme(readme), renderConfigTable());
});

test('the table names every setting and its environment variable', (t) => {
  const table = renderConfigTable();
  for (const s of listSettings()) t.true(table.includes(`| \`${s.key}\` | \`${s.env}\` |`), s.key);
  t.true(table.includes('| `server.port` | `PORT` | `8080` |'));
});
