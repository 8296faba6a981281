import Stripe from 'stripe';
import type { Config } from '../../config/schema.ts';

/** The Stripe SDK as configured (pointed at `stripe_api_base_url` when set, a local fake in tests); null without a key. */
export function createStripe(billing: Config['billing']): Stripe | null {
  if (!billing.stripe_secret_key) return null;
  const base = billing.stripe_api_base_url ? new URL(billing.stripe_api_base_url) : null;
  return new Stripe(billing.stripe_secret_key, {
    maxNetworkRetries: 2,
    timeout: 20_000,
    ...(base ? { host: base.hostname, port: Number(base.port || (base.protocol === 'https:' ? 443 : 80)), protocol: base.protocol.slice(0, -1) as 'http' | 'https' } : {}),
  });
}

export type { Stripe };
