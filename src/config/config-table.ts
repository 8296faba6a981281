import { readFileSync } from 'node:fs';
import { defaultConfigPath } from './load.ts';
import { listSettings } from './settings.ts';

/** A setting's default in config/default.json, as text (`unset`, `empty`, a comma list or JSON). */
export function defaultOf(key: string, defaults: unknown): string {
  let node = defaults;
  for (const part of key.split('.')) node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[part] : undefined;
  if (node === null || node === undefined) return 'unset';
  if (Array.isArray(node)) {
    if (node.length === 0) return 'empty';
    return node.every((item) => typeof item !== 'object' || item === null) ? node.join(',') : JSON.stringify(node);
  }
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- objects are written as JSON: a primitive is left
  return typeof node === 'object' ? JSON.stringify(node) : String(node);
}

/** The README's configuration table, generated from the schema and config/default.json. */
export function renderConfigTable(): string {
  const defaults: unknown = JSON.parse(readFileSync(defaultConfigPath, 'utf8'));
  const rows = listSettings().map((s) => `| \`${s.key}\` | \`${s.env}\` | \`${defaultOf(s.key, defaults)}\` | ${s.description.replace(/\|/g, '\\|')} |`);
  return ['| key | environment variable | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

const start = '<!-- config-table:start -->';
const end = '<!-- config-table:end -->';

/** The table currently between the README's markers, or null when the markers are missing. */
export function tableInReadme(readme: string): string | null {
  const from = readme.indexOf(start);
  const to = readme.indexOf(end);
  if (from < 0 || to < from) return null;
  return readme.slice(from + start.length, to).trim();
}

export function withTable(readme: string, table: string): string {
  const from = readme.indexOf(start);
  const to = readme.indexOf(end);
  if (from < 0 || to < from) throw new Error(`README.md has no ${start} ... ${end} markers`);
  return `${readme.slice(0, from + start.length)}\n${table}\n${readme.slice(to)}`;
}
