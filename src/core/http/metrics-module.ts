import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CoreModule } from '../boot/core-module.ts';
import type { HttpMetrics } from './access-log.ts';

export interface MetricsModule extends CoreModule {
  registry: Registry;
  http: HttpMetrics;
}

/** One Prometheus registry per server (tests run several in one process), with the process and HTTP metrics. */
export function createMetricsModule(): MetricsModule {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // prom-client names three gauges like counters (promtool check metrics rejects a `_total` that
  // is not a counter). Each is the sum of a gauge it also exports by type, without the suffix:
  // sum(nodejs_active_handles) is nodejs_active_handles_total.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
  return {
    name: 'metrics',
    registry,
    http: {
      requests: new Counter({ name: 'panel_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'] as const, registers: [registry] }),
      duration: new Histogram({
        name: 'panel_http_request_duration_seconds',
        help: 'HTTP request latency',
        labelNames: ['method', 'route', 'status'] as const,
        registers: [registry],
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      }),
    },
  };
}
