import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';

/** Rows for the invariant tests: each made valid, so a test breaks exactly the rule it names. */
export const fakeHash = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo';

export async function plantUser(db: Knex, fields: Record<string, unknown> = {}): Promise<string> {
  const tag = randomUUID().slice(0, 8);
  const [row] = await db('users')
    .insert({ username: `u-${tag}`, email: `u-${tag}@example.test`, password_hash: fakeHash, ...fields })
    .returning<Array<{ id: string }>>('id');
  return (row as { id: string }).id;
}

/** An active instance with its agent recorded (and a dev container its vmid), unless `fields` says otherwise. */
export async function plantInstance(db: Knex, ownerId: string, fields: Record<string, unknown> = {}): Promise<string> {
  const [row] = await db('instances')
    .insert({
      owner_id: ownerId,
      kind: 'game',
      plugin: 'game',
      name: 'planted',
      lifecycle: 'active',
      provisioner: 'static',
      agent_base_url: 'http://127.0.0.1:9',
      agent_token_encrypted: 'sealed',
      ...fields,
    })
    .returning<Array<{ id: string }>>('id');
  const id = (row as { id: string }).id;
  // A dev container's vmid is written with it (plugins/dev/vmids.ts).
  if (fields.plugin === 'dev') await db('dev_containers').insert({ instance_id: id, vmid: (nextVmid += 1) });
  return id;
}
let nextVmid = 100;

/** `ms` ago, as the database clock sees it (tests plant past deadlines without waiting). */
export const ago = (db: Knex, ms: number): Knex.Raw => db.raw(`now() - ?::interval`, [`${ms} milliseconds`]);

/** Every table an invariant reads, emptied, so one database serves a file's tests one after another (a database each costs more than the tests). */
export async function emptyTables(db: Knex): Promise<void> {
  await db.raw('TRUNCATE users, instances, billing_accounts, billing_events, game_backups, game_restores, dev_containers, streamspace_sessions, streamspace_commands CASCADE');
}
