import type { Knex } from 'knex';
import type { SecretBox } from '../crypto/secret-box.ts';
import { ServiceUnavailableError } from '../http/errors.ts';
import type { Allocation, InstanceForProvisioner, Provisioner } from './provisioner.ts';

/** Hands out agents from the pool admins registered (/api/admin/agents), one instance each. */
export class StaticProvisioner implements Provisioner {
  readonly name = 'static';

  constructor(
    private readonly db: Knex,
    private readonly box: SecretBox,
  ) {}

  async allocate(instance: InstanceForProvisioner, trx: Knex.Transaction): Promise<Allocation> {
    const result = await trx.raw<{ rows: Array<{ id: string; base_url: string; token_encrypted: string }> }>(
      `UPDATE agent_pool SET instance_id = ?
        WHERE id = (SELECT id FROM agent_pool WHERE instance_id IS NULL AND NOT needs_wipe AND kind IN (?, 'any')
                     ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING id, base_url, token_encrypted`,
      [instance.id, instance.kind],
    );
    const agent = result.rows[0];
    if (!agent) throw new ServiceUnavailableError('NO_AGENT_AVAILABLE', `No free ${instance.kind} agent in the pool; an admin must register one, or mark a wiped one ready for reuse`);
    return { baseUrl: agent.base_url, token: this.box.open(agent.token_encrypted), data: { agent_id: agent.id } };
  }

  async release(instance: InstanceForProvisioner): Promise<void> {
    await this.db('agent_pool').where({ instance_id: instance.id }).update({ instance_id: null, needs_wipe: true });
  }
}
