import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderConfigTable, withTable } from '../src/config/config-table.ts';
import { renderEnvExample } from '../src/config/env-example.ts';

const readmePath = fileURLToPath(new URL('../README.md', import.meta.url));
const envExamplePath = fileURLToPath(new URL('../.env.example', import.meta.url));

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(`Usage: npm run config-table [-- --write | --env-example]

Prints the configuration table (every setting, its environment variable, default and
meaning) as Markdown, generated from the config schema and config/default.json.

  --write        replace the table between the markers in README.md and rewrite .env.example
                 (every environment variable with its default) instead of printing
  --env-example  print .env.example instead of the table
  -h, --help     show this help

Tests fail when README.md's table or .env.example and the schema drift apart; run with
--write to fix both.
`);
  process.exit(0);
}
if (process.argv.includes('--write')) {
  writeFileSync(readmePath, withTable(readFileSync(readmePath, 'utf8'), renderConfigTable()));
  writeFileSync(envExamplePath, renderEnvExample());
  process.stdout.write('README.md configuration table and .env.example updated.\n');
} else if (process.argv.includes('--env-example')) {
  process.stdout.write(renderEnvExample());
} else {
  process.stdout.write(`${renderConfigTable()}\n`);
}
