import test from 'ava';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderEnvExample } from '../../src/config/env-example.ts';
import { loadConfig } from '../../src/config/load.ts';
import { listSettings } from '../../src/config/settings.ts';

const envExamplePath = fileURLToPath(new URL('../../.env.example', import.meta.url));

test('.env.example matches the schema and defaults (npm run config-table -- --write fixes it)', (t) => {
  t.is(readFileSync(envExamplePath, 'utf8'), renderEnvExample());
});

test('.env.example names every setting, secrets and settings without a default commented out', (t) => {
  const text = renderEnvExample();
  for (const s of listSettings()) {
    t.regex(text, new RegExp(`^(# )?${s.env}=`, 'm'), s.key);
    if (s.secret) t.notRegex(text, new RegExp(`^${s.env}=`, 'm'), `${s.env} is a secret`);
  }
  t.regex(text, /^PORT=8080$/m);
  t.regex(text, /^# DATABASE_URL=$/m);
});

// What an operator does with it: sourced by sh (as `set -a; . ./.env; set +a` does) it gives
// exactly the shipped defaults, so the quoting of lists, JSON and text with spaces is right.
test('.env.example sourced by sh loads as the defaults of config/default.json', (t) => {
  const dump = execFileSync('/bin/sh', ['-c', 'set -a; . "$1"; set +a; exec node -e "process.stdout.write(JSON.stringify(process.env))"', 'sh', envExamplePath], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    encoding: 'utf8',
  });
  const env = JSON.parse(dump) as Record<string, string>;
  const active = listSettings().filter((s) => env[s.env] !== undefined);
  t.true(active.length > 40, `only ${active.length} settings set by the file`);
  t.is(env.PANEL_MAIL_FROM, 'Hosting panel <no-reply@localhost>');
  t.deepEqual(loadConfig({ env }), loadConfig({ env: {} }));
});
