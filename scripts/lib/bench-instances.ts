import type pg from 'pg';
import { SecretBox } from '../../src/core/crypto/secret-box.ts';

/**
 * Records one active instance per agent, owned by the bench admin, straight in PostgreSQL (the
 * API's create route would provision agents of its own): what the poller then polls. Names are
 * `bench-<n>`, in the agents' order.
 */
export async function recordBenchInstances(db: pg.Client, encryptionKey: string, agents: Array<{ baseUrl: string; token: string }>): Promise<void> {
  const box = new SecretBox(encryptionKey);
  const owner = await db.query<{ id: string }>(`SELECT id FROM users WHERE username = 'admin'`);
  const ownerId = owner.rows[0]?.id;
  if (!ownerId) throw new Error('the bench admin is missing: the API did not create it');
  for (let i = 0; i < agents.length; i += 1000) {
    const chunk = agents.slice(i, i + 1000);
    await db.query(
      `INSERT INTO instances (owner_id, kind, plugin, name, lifecycle, provisioner, agent_base_url, agent_token_encrypted)
       SELECT $1, 'game', 'bench', 'bench-' || n, 'active', 'static', u, t FROM unnest($2::text[], $3::text[], $4::int[]) AS x(u, t, n)`,
      [ownerId, chunk.map((a) => a.baseUrl), chunk.map((a) => box.seal(a.token)), chunk.map((_a, j) => i + j)],
    );
  }
}
