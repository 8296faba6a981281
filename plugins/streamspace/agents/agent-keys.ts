import type { Knex } from 'knex';
import { hashToken, newOpaqueToken } from '../../../src/plugin-api/index.ts';

/** Per-agent keys (addendum "Agent credentials"): shown once, stored as SHA-256 hashes, rotated by issuing again. */
export class AgentKeys {
  constructor(private readonly db: Knex) {}

  async issue(agentId: string, createdBy: string): Promise<{ agent_id: string; key: string; created_at: string }> {
    const key = `ssak_${newOpaqueToken()}`;
    const [row] = await this.db('streamspace_agent_keys')
      .insert({ agent_id: agentId, key_hash: hashToken(key), created_by: createdBy })
      .onConflict('agent_id')
      .merge({ key_hash: hashToken(key), created_by: createdBy, created_at: this.db.fn.now() })
      .returning<Array<{ created_at: Date }>>('created_at');
    return { agent_id: agentId, key, created_at: new Date((row as { created_at: Date }).created_at).toISOString() };
  }

  /** Whether `key` is the current key of `agentId` (a key of another agent does not open this one). */
  async verify(agentId: string, key: string): Promise<boolean> {
    return this.isCurrent(agentId, hashToken(key));
  }

  async isCurrent(agentId: string, keyHash: string): Promise<boolean> {
    const row: unknown = await this.db('streamspace_agent_keys').where({ agent_id: agentId, key_hash: keyHash }).first('agent_id');
    return row !== undefined;
  }

  async revoke(agentId: string): Promise<boolean> {
    // `returning` rather than the affected-row count, which the embedded driver does not report for DELETE.
    const gone = await this.db('streamspace_agent_keys').where({ agent_id: agentId }).delete().returning('agent_id');
    return gone.length > 0;
  }
}
