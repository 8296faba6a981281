import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type { Logger } from '../log/logger.ts';
import type { PasswordHasher } from './password-hasher.ts';
import type { UserStore } from './user-store.ts';
import { emailSchema, passwordSchema, usernameSchema } from './user-schemas.ts';

export interface BootstrapSettings {
  admin_username: string | null;
  admin_email: string | null;
  admin_password: string | null;
}

export interface CreatedAdmin {
  username: string;
  email: string;
  /** Set when we made the password up: the caller shows it once. */
  generatedPassword: string | null;
}

/** Checks the ADMIN_* values up front, with messages that name the variable. */
export function bootstrapProblems(settings: BootstrapSettings): string[] {
  const problems: string[] = [];
  if (settings.admin_username !== null && !usernameSchema.safeParse(settings.admin_username).success) problems.push('ADMIN_USERNAME: use 3-32 letters, digits, dot, dash or underscore');
  if (settings.admin_email !== null && !emailSchema.safeParse(settings.admin_email).success) problems.push('ADMIN_EMAIL: not an email address');
  if (settings.admin_password !== null && !passwordSchema.safeParse(settings.admin_password).success) problems.push('ADMIN_PASSWORD: use 8 to 1024 characters');
  return problems;
}

/**
 * On a database with no admin, creates one. Replicas starting together serialise on an
 * advisory lock, so exactly one admin is created.
 */
export async function ensureAdmin(db: Knex, users: UserStore, hasher: PasswordHasher, settings: BootstrapSettings): Promise<CreatedAdmin | null> {
  const exists: unknown = await db('users').where({ role: 'admin' }).first('id');
  if (exists) return null;
  const password = settings.admin_password ?? randomBytes(15).toString('base64url');
  const generatedPassword = settings.admin_password === null ? password : null;
  const passwordHash = await hasher.hash(password);
  const username = settings.admin_username ?? 'admin';
  const email = settings.admin_email ?? 'admin@localhost.localdomain';
  return db.transaction(async (trx) => {
    await trx.raw(`SELECT pg_advisory_xact_lock(hashtext('panel:bootstrap-admin'))`);
    const raced: unknown = await trx('users').where({ role: 'admin' }).first('id');
    if (raced) return null;
    await users.create({ username, email, passwordHash, role: 'admin' }, trx);
    return { username, email, generatedPassword };
  });
}

/**
 * The one time a generated password is shown: on the console, not in the JSON log. It says
 * where to use it (PUBLIC_URL's sign-in route and its `login` field), so whoever ran
 * `npm start` can sign in without reading the API reference first.
 */
export function announceAdmin(created: CreatedAdmin, log: Logger, write: (text: string) => void, publicUrl: string): void {
  log.info({ username: created.username, email: created.email, generated_password: created.generatedPassword !== null }, 'created the first admin');
  if (created.generatedPassword !== null) {
    const signIn = `${publicUrl.replace(/\/+$/, '')}/api/auth/login`;
    write(
      `\n  First admin created.\n    username: ${created.username}\n    password: ${created.generatedPassword}\n` +
        `  Sign in: POST ${signIn} with {"login": "${created.username}", "password": "<the password above>"}\n` +
        `    ("login" takes the username or the email, ${created.email}).\n` +
        `  This is shown once. Sign in and change it.\n\n`,
    );
  }
}
