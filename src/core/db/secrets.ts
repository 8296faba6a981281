import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';

export interface AppSecrets {
  jwtSecret: string;
  encryptionKey: string;
  /** Signs file URLs for browsers; a key of its own, so an access-token key leak does not forge them (and the reverse). */
  urlSigningKey: string;
  /** Signs the tokens replicas open internal relays with (src/core/cluster); shared by every replica through this table. */
  clusterSecret: string;
}

export interface SecretSources {
  jwt_secret: string | null;
  encryption_key: string | null;
}

/**
 * A secret from the environment wins. Otherwise the first process to start generates it and
 * stores it; everyone after (restarts, other replicas) reads the same row, so a deploy never
 * logs anyone out. The insert is `ON CONFLICT DO NOTHING`, so racing replicas agree.
 */
async function storedSecret(knex: Knex, name: string, onGenerated: (name: string) => void): Promise<string> {
  const candidate = randomBytes(48).toString('base64url');
  const inserted = await knex('app_secrets').insert({ name, value: candidate }).onConflict('name').ignore().returning('name');
  if (inserted.length > 0) onGenerated(name);
  const row = await knex('app_secrets').where({ name }).first<{ value: string } | undefined>('value');
  if (!row) throw new Error(`secret ${name} vanished after insert`);
  return row.value;
}

export async function loadSecrets(knex: Knex, sources: SecretSources, onGenerated: (name: string) => void): Promise<AppSecrets> {
  return {
    jwtSecret: sources.jwt_secret ?? (await storedSecret(knex, 'jwt_secret', onGenerated)),
    encryptionKey: sources.encryption_key ?? (await storedSecret(knex, 'encryption_key', onGenerated)),
    urlSigningKey: await storedSecret(knex, 'url_signing_key', onGenerated),
    clusterSecret: await storedSecret(knex, 'cluster_secret', onGenerated),
  };
}
