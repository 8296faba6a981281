import type { Knex } from 'knex';
import { eventually } from './agent-core.ts';
import type { TestSocket } from './ws-client.ts';

/** Rows in `socket_slots` for one cap key: the sockets every replica counts against it. */
export async function slotRows(knex: Knex, key: string): Promise<number> {
  const [row] = await knex('socket_slots').where({ key }).count<Array<{ n: string | number }>>('* as n');
  return Number(row?.n);
}

/** Closes the sockets and waits until their slots are freed in the database. */
export async function closeAndFree(sockets: TestSocket[], knex: Knex, key: string, what: string): Promise<void> {
  for (const s of sockets) s.ws.close();
  await Promise.all(sockets.map((s) => s.closed));
  await eventually(async () => (await slotRows(knex, key)) === 0, 10_000, `every ${what} slot to be freed`);
}
