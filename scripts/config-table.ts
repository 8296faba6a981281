import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderConfigTable, withTable } from '../src/config/config-table.ts';

const readmePath = fileURLToPath(new URL('../README.md', import.meta.url));

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(`Usage: npm run config-table [-- --write]

Prints the configuration table (every setting, its environment variable, default and
meaning) as Markdown, generated from the config schema and config/default.json.

  --write     replace the table between the markers in README.md instead of printing it
  -h, --help  show this help

A test fails when README.md's table and the schema drift apart; run with --write to fix it.
`);
  process.exit(0);
}
if (process.argv.includes('--write')) {
  writeFileSync(readmePath, withTable(readFileSync(readmePath, 'utf8'), renderConfigTable()));
  process.stdout.write('README.md configuration table updated.\n');
} else {
  process.stdout.write(`${renderConfigTable()}\n`);
}
