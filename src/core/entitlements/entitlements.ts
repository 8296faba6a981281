import type { Knex } from 'knex';

/**
 * What a user's plan allows, asked by plugins before they create instances. Billing answers
 * from the user's plan; until it is configured, the defaults from config apply.
 */
export interface Entitlements {
  /** The most instances of `kind` (`game`, `dev`) the user may have; null: no limit. */
  maxInstances(userId: string, kind: string): Promise<number | null>;
}

/** Admins have no limit; everyone else gets `entitlements.default_limits`. */
export class DefaultEntitlements implements Entitlements {
  constructor(
    private readonly db: Knex,
    private readonly defaults: Readonly<Record<string, number>>,
  ) {}

  async maxInstances(userId: string, kind: string): Promise<number | null> {
    const user = await this.db('users').where({ id: userId }).first<{ role: string } | undefined>('role');
    if (user?.role === 'admin') return null;
    return this.defaults[kind] ?? null;
  }
}
