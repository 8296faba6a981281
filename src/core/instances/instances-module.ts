import type { Knex } from 'knex';
import type { Registry } from 'prom-client';
import type { Config } from '../../config/schema.ts';
import type { Logger } from '../log/logger.ts';
import type { CoreModule } from '../boot/core-module.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import type { AgentClient } from '../agent/agent-client.ts';
import type { EventBus } from '../events/event-bus.ts';
import { InstanceService } from './instance-service.ts';
import { Poller } from './poller.ts';
import type { Provisioner } from './provisioner.ts';
import { StaticProvisioner } from './static-provisioner.ts';
import { LocalProvisioner } from './local-provisioner.ts';
import { agentPoolRoutes } from './agent-pool-routes.ts';
import { adminInstanceRoutes } from './admin-instance-routes.ts';
import { pollAgentsJob } from './jobs/poll-agents.ts';
import { resumeInstanceWorkJob } from './jobs/resume-instance-work.ts';
import { reviveLocalAgentsJob } from './jobs/revive-local-agents.ts';

export interface InstancesModule extends CoreModule {
  poller: Poller;
  instances: InstanceService;
}

export interface InstancesModuleOptions {
  db: Knex;
  config: Readonly<Config>;
  box: SecretBox;
  client: AgentClient;
  bus: EventBus;
  log: Logger;
  registry: Registry;
  replicaId: string;
  /** Extra provisioners by name (tests add their own). */
  provisioners?: Provisioner[];
}

/** The agent-polling heart: the poller, the provisioners, instances and their background work. */
export function createInstancesModule(options: InstancesModuleOptions): InstancesModule {
  const { config, db, log, box, client, bus, replicaId } = options;
  const a = config.agents;
  const poller = new Poller({
    db,
    client,
    box,
    bus,
    log: log.child({ component: 'poller' }),
    settings: { intervalMs: a.poll_interval_ms, concurrency: a.poll_concurrency, suspectConcurrency: a.suspect_concurrency, maxBackoffMs: a.max_backoff_ms },
    replicaId,
    registry: options.registry,
  });
  const local = new LocalProvisioner(config.database.data_dir, log.child({ component: 'local-provisioner' }));
  const provisioners = new Map<string, Provisioner>([
    ['static', new StaticProvisioner(db, box)],
    ['local', local],
  ]);
  for (const p of options.provisioners ?? []) provisioners.set(p.name, p);
  const instances = new InstanceService({
    db,
    box,
    client,
    bus,
    poller,
    provisioners,
    defaultProvisioner: config.provisioner,
    settings: { pollIntervalMs: a.poll_interval_ms, provisionDeadlineMs: a.provision_deadline_ms, leaseMs: a.work_lease_ms, readyRetryMs: 1_000 },
    replicaId,
    log: log.child({ component: 'instances' }),
  });
  return {
    name: 'instances',
    poller,
    instances,
    routes: [...agentPoolRoutes(db, box, client), ...adminInstanceRoutes(instances)],
    jobs: [pollAgentsJob(poller), resumeInstanceWorkJob(instances), reviveLocalAgentsJob(db, local)],
    start: async () => {
      await poller.reload();
      await instances.resumeOrphans();
    },
    stop: async () => {
      await instances.stop();
      await poller.stop();
    },
  };
}
