import type { Config } from '../../config/schema.ts';

export type Plan = Config['billing']['plans'][number];
export type PlanLimits = Plan['limits'];

/** The configured plans, ordered by price: the order upgrade and downgrade follow. */
export class Plans {
  private readonly byId: ReadonlyMap<string, Plan>;
  readonly ordered: readonly Plan[];

  constructor(
    plans: readonly Plan[],
    private readonly defaultId: string,
  ) {
    this.ordered = [...plans].sort((a, b) => a.amount - b.amount);
    this.byId = new Map(plans.map((p) => [p.id, p]));
  }

  get(id: string | null | undefined): Plan | undefined {
    return id ? this.byId.get(id) : undefined;
  }

  get default(): Plan {
    return this.byId.get(this.defaultId) as Plan;
  }

  byPrice(priceId: string | null | undefined): Plan | undefined {
    return priceId ? this.ordered.find((p) => p.price_id === priceId) : undefined;
  }
}
