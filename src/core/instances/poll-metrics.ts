import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** What the poller reports to Prometheus. */
export class PollMetrics {
  readonly polls: Counter<'outcome'>;
  readonly seconds: Histogram;
  readonly tracked: Gauge;
  readonly stateAge: Histogram;

  constructor(registry: Registry) {
    this.polls = new Counter({ name: 'panel_agent_polls_total', help: 'Agent polls by outcome', labelNames: ['outcome'], registers: [registry] });
    this.seconds = new Histogram({
      name: 'panel_agent_poll_duration_seconds',
      help: 'Time of one agent poll (/health, /ready, /status)',
      registers: [registry],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5],
    });
    this.tracked = new Gauge({ name: 'panel_agent_polled_instances', help: 'Instances this replica polls', registers: [registry] });
    this.stateAge = new Histogram({
      name: 'panel_agent_state_age_seconds',
      help: "How old an instance's last good state was when a poll refreshed it (staleness just before refresh)",
      registers: [registry],
      buckets: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17.5, 20, 25, 30, 45, 60, 120],
    });
  }
}
