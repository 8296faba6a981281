import { defineInvariant } from './invariant.ts';

/**
 * Rows written by more than one statement commit in one transaction (a user with its hash, an
 * instance with its deadline and lease, its agent with the lifecycle that needs it); these
 * checks find the halves a crash between statements would leave if one ever did not.
 * Owners are a foreign key (`instances.owner_id`, NOT NULL, ON DELETE RESTRICT), so an
 * instance without an owner cannot be stored at all.
 */
export const userWithoutCredential = defineInvariant({
  id: 'core.user-without-credential',
  title: 'every user has a password hash (argon2)',
  explanation: 'A user row without an argon2 hash was created (or reset) half-way: nobody can sign in as it, and registering the name again is refused because it is taken.',
  remedy:
    'Have the user set a password through POST /api/auth/password-reset (the confirmation stores a new hash), or delete the user (DELETE /api/admin/users/:id) so the name can be registered again.',
  async offending({ db }) {
    const rows = await db('users').whereRaw(`password_hash NOT LIKE '$argon2%'`).orderBy('created_at').select<Array<{ id: string }>>('id');
    return rows.map((r) => r.id);
  },
});

export const instanceWithoutAgent = defineInvariant({
  id: 'core.instance-half-created',
  title: 'every instance that runs has its agent recorded, and every provisioning one a deadline',
  explanation:
    'An active, suspended or restoring instance is polled, proxied and asked for backups through its recorded agent URL and token; without them every call fails. A provisioning instance without a deadline would never be failed, and so could stay provisioning forever.',
  remedy: 'Delete the instance (DELETE on its plugin route, or as an admin) and create it again; report the row, since the code writes these columns together.',
  async offending({ db }) {
    const rows = await db('instances')
      .where((q) => void q.whereIn('lifecycle', ['active', 'suspended', 'restoring_backup']).where((r) => void r.whereNull('agent_base_url').orWhereNull('agent_token_encrypted')))
      .orWhere((q) => void q.where({ lifecycle: 'provisioning' }).whereNull('provision_deadline'))
      .orderBy('created_at')
      .select<Array<{ id: string }>>('id');
    return rows.map((r) => r.id);
  },
});
