import type { MountedRoute } from './route.ts';
import type { RateLimiter } from './rate-limiter.ts';

/** Every route's rate limits must be configured: one line per use of a missing one. */
export function checkRateLimitUses(routes: readonly MountedRoute[], rateLimiter: RateLimiter): string[] {
  return routes.flatMap(({ fullPath, route }) =>
    (route.rateLimits ?? []).filter((use) => !rateLimiter.has(use.name)).map((use) => `rate_limits.${use.name}: missing, and ${route.method.toUpperCase()} ${fullPath} uses it`),
  );
}
