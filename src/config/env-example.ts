import { readFileSync } from 'node:fs';
import { defaultConfigPath } from './load.ts';
import { listSettings, type Setting } from './settings.ts';

const header = `# Every environment variable of the hosting panel API, with its default. Generated from the
# config schema and config/default.json by \`npm run config-table -- --write\` (like the README's
# configuration table); do not edit it here: a test fails when it and the schema drift apart.
#
# The server reads its process environment only, never a .env file. Copy this file, change what
# you need, and load it into the environment that starts the server:
#   cp .env.example .env; set -a; . ./.env; set +a; npm start
# or, under systemd, EnvironmentFile=/etc/hosting-panel/panel.env (deploy/hosting-panel.service).
# Values are single-quoted where they need it, which both sh and systemd read the same way.
#
# A commented-out line has no default (or is a secret): unset, the server does what its comment
# says. An active line pins that setting, and environment variables win over CONFIG_FILE, so
# delete or comment out the lines of the settings you keep in that file.

# A JSON file merged over config/default.json before these variables (same keys as the schema).
# CONFIG_FILE=/etc/hosting-panel/config.json
`;

/** A default as the environment text that parses back to it (settings.ts parseEnvValue). */
function envText(setting: Setting, value: unknown): string {
  if (setting.kind === 'list' && Array.isArray(value)) return value.join(',');
  if (setting.kind === 'json') return JSON.stringify(value);
  return String(value);
}

/** Single quotes when sh would split or expand the text; sh and systemd both take them literally. */
function quoted(text: string): string {
  if (/^[A-Za-z0-9_./:@,+-]*$/.test(text)) return text;
  if (text.includes("'")) throw new Error(`a default with a single quote cannot be written to .env.example: ${text}`);
  return `'${text}'`;
}

function valueAt(key: string, defaults: unknown): unknown {
  let node = defaults;
  for (const part of key.split('.')) node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[part] : undefined;
  return node;
}

/** .env.example: each setting's key and meaning as a comment, then VARIABLE=default. */
export function renderEnvExample(defaultsPath = defaultConfigPath): string {
  const defaults: unknown = JSON.parse(readFileSync(defaultsPath, 'utf8'));
  const blocks = listSettings().map((s) => {
    const value = valueAt(s.key, defaults);
    const comment = `# ${s.key}${s.secret ? ' (secret)' : ''}: ${s.description}`;
    if (value === null || value === undefined) return `${comment}\n# ${s.env}=`;
    const line = `${s.env}=${quoted(envText(s, value))}`;
    return `${comment}\n${s.secret ? `# ${line}` : line}`;
  });
  return `${header}\n${blocks.join('\n\n')}\n`;
}
