import { createInterface } from 'node:readline';
import { loadConfig } from '../src/config/load.ts';
import { openDatabase } from '../src/core/db/database.ts';
import { migrateUp } from '../src/core/db/migrator.ts';
import { loadSecrets } from '../src/core/db/secrets.ts';
import { createAuthModule } from '../src/core/auth/auth-module.ts';
import { EventBus } from '../src/core/events/event-bus.ts';
import { EventCatalogue } from '../src/core/events/event-catalogue.ts';
import { coreEvents } from '../src/core/events/core-events.ts';
import { createMailModule } from '../src/core/mail/mail-module.ts';
import { AuditLog } from '../src/core/audit/audit-log.ts';
import { SecretBox } from '../src/core/crypto/secret-box.ts';
import { emailSchema, passwordSchema, usernameSchema } from '../src/core/auth/user-schemas.ts';
import { createLogger } from '../src/core/log/logger.ts';
import { coreMigrationsDir } from '../src/core/db/database-module.ts';
import { runScript } from './lib/run-script.ts';
import { randomBytes } from 'node:crypto';

const help = `Usage: npm run create-admin -- --username <name> --email <address> [--password-stdin]

Creates an admin account in the panel's database (the same DATABASE_URL or DATA_DIR as
the server). Without --password-stdin a strong password is generated and printed once.
The server creates a first admin by itself on an empty database; use this for more.

Options:
  --username <name>     3-32 letters, digits, dot, dash or underscore
  --email <address>     the admin's email
  --password-stdin      read the password from the first line of standard input
                        (keeps it out of the shell history and the process list)
  -h, --help            show this help

Examples:
  npm run create-admin -- --username ops --email ops@example.com
  printf '%s\\n' "$PASSWORD" | npm run create-admin -- --username ops --email ops@example.com --password-stdin
`;

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function firstLine(): Promise<string> {
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) return line;
  return '';
}

async function main(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(help);
    return 0;
  }
  const username = option(args, '--username') ?? '';
  const email = option(args, '--email') ?? '';
  const password = args.includes('--password-stdin') ? await firstLine() : randomBytes(15).toString('base64url');
  const problems = [
    usernameSchema.safeParse(username).success ? null : '--username: use 3-32 letters, digits, dot, dash or underscore',
    emailSchema.safeParse(email).success ? null : '--email: not an email address',
    passwordSchema.safeParse(password).success ? null : 'password: use 8 to 1024 characters',
  ].filter((p): p is string => p !== null);
  if (problems.length > 0) {
    process.stderr.write(`${problems.join('\n')}\n\n${help}`);
    return 2;
  }
  const config = loadConfig();
  const log = createLogger('warn');
  const database = await openDatabase(config.database);
  try {
    await migrateUp(database.knex, [{ owner: 'core', dir: coreMigrationsDir }]);
    const secrets = await loadSecrets(database.knex, config.secrets, () => {});
    const db = database.knex;
    const catalogue = new EventCatalogue();
    catalogue.register('core', coreEvents, { prefixed: false });
    const bus = new EventBus({ db, listenUrl: database.url, catalogue, log });
    const outbox = createMailModule({ db, box: new SecretBox(secrets.encryptionKey), config, log }).outbox;
    const auth = createAuthModule({ db, config, secrets, log, bus, audit: new AuditLog(db), outbox, write: () => undefined });
    await auth.userAdmin.create({ username, email, password, role: 'admin' }, { userId: null, ip: 'cli', requestId: 'scripts/create-admin' }, 'admin.user_created');
    await auth.stop();
    outbox.close();
    process.stdout.write(`Created admin "${username}" <${email}>.\n`);
    if (!args.includes('--password-stdin')) process.stdout.write(`Password (shown once; change it after signing in): ${password}\n`);
    return 0;
  } finally {
    await database.close();
  }
}

runScript('create-admin', main);
