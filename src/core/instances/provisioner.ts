import type { Knex } from 'knex';

export interface InstanceForProvisioner {
  id: string;
  kind: string;
  spec: Record<string, unknown>;
  allocation: Record<string, unknown>;
}

/** An agent handed to an instance: where it is, its token, and what to release later. */
export interface Allocation {
  baseUrl: string;
  token: string;
  data: Record<string, unknown>;
}

/**
 * Where agents come from. `allocate` runs inside the transaction that records the
 * allocation on the instance, so a crash never leaves an agent taken but unrecorded.
 */
export interface Provisioner {
  name: string;
  allocate(instance: InstanceForProvisioner, trx: Knex.Transaction): Promise<Allocation>;
  release(instance: InstanceForProvisioner): Promise<void>;
}
