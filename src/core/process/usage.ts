import { readFileSync } from 'node:fs';
import { defaultOf } from '../../config/config-table.ts';
import { defaultConfigPath } from '../../config/load.ts';
import { listSettings } from '../../config/settings.ts';

/** What `npm start -- <args>` asks for: the help, or a server (or nothing sensible: an error line). */
export type Invocation = { kind: 'help' } | { kind: 'serve' } | { kind: 'bad'; message: string };

export function parseInvocation(args: readonly string[]): Invocation {
  if (args.includes('--help') || args.includes('-h')) return { kind: 'help' };
  const [first] = args;
  if (first !== undefined) {
    return { kind: 'bad', message: `unknown argument "${first}"; npm start takes its settings from environment variables (npm start -- --help lists them)` };
  }
  return { kind: 'serve' };
}

/** The help of `npm start`, generated from the config schema like the README's table, so the two cannot differ. */
export function renderUsage(): string {
  const defaults: unknown = JSON.parse(readFileSync(defaultConfigPath, 'utf8'));
  const settings = listSettings().map((s) => `  ${s.env}  [${s.secret ? 'secret; ' : ''}default: ${defaultOf(s.key, defaults)}]\n      ${s.description}`);
  return `Usage: npm start [-- --help]

Starts the panel API: opens the database, applies migrations, creates the first admin on an
empty database, and serves HTTP until SIGTERM or SIGINT.

Options:
  -h, --help  print this help and exit; nothing is started or created

Settings come from config/default.json, then the JSON file named by CONFIG_FILE, then these
environment variables (each also a key in that file, as in the README's configuration table):

${settings.join('\n')}
`;
}
