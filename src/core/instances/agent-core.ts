import type { Knex } from 'knex';
import type { Registry } from 'prom-client';
import type { Config } from '../../config/schema.ts';
import type { Logger } from '../log/logger.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import type { RouteDefinition } from '../http/route.ts';
import type { JobDefinition } from '../jobs/job.ts';
import type { Tickets } from '../auth/tickets.ts';
import type { Principal } from '../http/principal.ts';
import { AgentClient } from '../agent/agent-client.ts';
import { AgentStreams } from '../agent/agent-streams.ts';
import type { EventBus } from '../events/event-bus.ts';
import { EventStreams, eventStreamRoutes } from '../events/event-stream-routes.ts';
import { InstanceService } from './instance-service.ts';
import { Poller } from './poller.ts';
import type { Provisioner } from './provisioner.ts';
import { StaticProvisioner } from './static-provisioner.ts';
import { LocalProvisioner } from './local-provisioner.ts';
import { agentPoolRoutes } from './agent-pool-routes.ts';
import { adminInstanceRoutes } from './admin-instance-routes.ts';

export interface AgentCore {
  client: AgentClient;
  /** Raw file and archive streams to agents, beside the client. */
  streams: AgentStreams;
  bus: EventBus;
  poller: Poller;
  instances: InstanceService;
  routes: RouteDefinition[];
  jobs: JobDefinition[];
  start(): Promise<void>;
  /** Ends event streams (clients resume elsewhere) before the HTTP drain. */
  closeStreams(): void;
  stop(): Promise<void>;
}

export interface AgentCoreDeps {
  db: Knex;
  /** Started and stopped here, with the rest of the agent core. */
  bus: EventBus;
  config: Readonly<Config>;
  box: SecretBox;
  tickets: Tickets;
  stillValid(principal: Principal): Promise<boolean>;
  log: Logger;
  registry: Registry;
  replicaId: string;
  /** Extra provisioners by name (the local one, tests' own). */
  provisioners?: Provisioner[];
}

/** The agent-polling heart: client, poller, instances, provisioners, events and their routes and jobs. */
export function createAgentCore(deps: AgentCoreDeps): AgentCore {
  const { config, db, log } = deps;
  const a = config.agents;
  const client = new AgentClient({
    timeouts: {
      poll: { connectMs: a.poll_connect_timeout_ms, totalMs: a.poll_timeout_ms },
      action: { connectMs: a.poll_connect_timeout_ms * 2, totalMs: a.action_timeout_ms },
      backup: { connectMs: a.poll_connect_timeout_ms * 2, totalMs: a.backup_timeout_ms },
    },
    maxResponseBytes: a.max_response_bytes,
    maxSockets: a.max_sockets,
    breaker: { threshold: a.breaker_threshold, cooldownMs: a.breaker_cooldown_ms, maxCooldownMs: a.max_backoff_ms },
  });
  const { bus } = deps;
  const fileStreams = new AgentStreams({ stallMs: config.files.stall_timeout_ms, maxUploadBytes: config.files.max_upload_bytes });
  const poller = new Poller(db, client, deps.box, bus, log.child({ component: 'poller' }), {
    intervalMs: a.poll_interval_ms,
    concurrency: a.poll_concurrency,
    suspectConcurrency: a.suspect_concurrency,
    maxBackoffMs: a.max_backoff_ms,
  }, deps.replicaId, deps.registry);
  const local = new LocalProvisioner(config.database.data_dir, log.child({ component: 'local-provisioner' }));
  const provisioners = new Map<string, Provisioner>([
    ['static', new StaticProvisioner(db, deps.box)],
    ['local', local],
  ]);
  for (const p of deps.provisioners ?? []) provisioners.set(p.name, p);
  const instances = new InstanceService(db, deps.box, client, bus, poller, provisioners, config.provisioner, {
    pollIntervalMs: a.poll_interval_ms,
    provisionDeadlineMs: a.provision_deadline_ms,
    leaseMs: a.work_lease_ms,
    readyRetryMs: 1_000,
  }, deps.replicaId, log.child({ component: 'instances' }));
  const streams = new EventStreams();

  return {
    client,
    streams: fileStreams,
    bus,
    poller,
    instances,
    routes: [
      ...eventStreamRoutes(bus, deps.tickets, streams, { stillValid: deps.stillValid, heartbeatMs: config.events.heartbeat_ms, publicUrl: config.server.public_url, maxBufferedBytes: 1024 * 1024 }),
      ...agentPoolRoutes(db, deps.box, client),
      ...adminInstanceRoutes(instances),
    ],
    jobs: [
      { id: 'core.poll-agents', every_ms: 1_000, timeout_ms: 30_000, once_across_replicas: false, quiet: true, run: () => poller.tick() },
      { id: 'core.instance-work', every_ms: 5_000, timeout_ms: 30_000, once_across_replicas: false, quiet: true, run: async () => void (await instances.resumeOrphans()) },
      {
        id: 'core.local-agents',
        every_ms: 15_000,
        timeout_ms: 30_000,
        once_across_replicas: false,
        quiet: true,
        run: async ({ log: jobLog }) => {
          const rows = await db('instances').where({ provisioner: 'local' }).whereIn('lifecycle', ['active', 'suspended', 'restoring_backup']).select<Array<{ id: string; spec: Record<string, unknown> }>>('id', 'spec');
          const revived = await local.revive(rows);
          if (revived > 0) jobLog.warn({ revived }, 'restarted local agents that had died');
        },
      },
      { id: 'core.events-prune', every_ms: 10 * 60_000, timeout_ms: 60_000, once_across_replicas: true, run: () => bus.prune(config.events.retention_rows) },
    ],
    start: async () => {
      await bus.start();
      await poller.reload();
      await instances.resumeOrphans();
    },
    closeStreams: () => streams.closeAll(),
    stop: async () => {
      await instances.stop();
      await poller.stop();
      await bus.stop();
      client.close();
      fileStreams.close();
    },
  };
}
