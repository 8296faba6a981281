import { z } from 'zod';
import { instanceStateSchema, requireLifecycle, visibleInstance, type Instance, type Instances, type Lifecycle, type Principal } from '../../src/plugin-api/index.ts';

export const containerSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    vmid: z.number().int(),
    template: z.string(),
    owner_id: z.uuid(),
    resources: z.object({ cpu_cores: z.number(), memory_mb: z.number(), disk_mb: z.number() }),
    codeserver: z.object({ state: z.enum(['running', 'stopped', 'unknown']) }).describe('the IDE, from the last poll'),
    lifecycle_reason: z.string().nullable(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
    state: instanceStateSchema,
  })
  .meta({ id: 'DevContainer' });
export type DevContainer = z.infer<typeof containerSchema>;

export interface DevSpec {
  template: string;
  resources: DevContainer['resources'];
  command: string;
  ready_pattern?: string;
  ide_command: string;
  /** A dev container's workload runs from the start; only its IDE is switched on and off. */
  autostart: true;
}

export const containerIdParams = z.object({ id: z.uuid().describe('Dev container id') });

/** The IDE's state as the agent last reported it in `/status`. */
export function codeserverOf(instance: Instance): { state: 'running' | 'stopped' | 'unknown'; port: number | null } {
  const cs = instance.state.details.codeserver as { state?: string; port?: number | null } | undefined;
  if (!instance.state.reachable || !cs || (cs.state !== 'running' && cs.state !== 'stopped')) return { state: 'unknown', port: null };
  return { state: cs.state, port: typeof cs.port === 'number' ? cs.port : null };
}

export function toContainer(instance: Instance, vmid: number): DevContainer {
  const spec = instance.spec as Partial<DevSpec>;
  return {
    id: instance.id,
    name: instance.name,
    vmid,
    template: spec.template ?? 'unknown',
    owner_id: instance.ownerId,
    resources: spec.resources ?? { cpu_cores: 0, memory_mb: 0, disk_mb: 0 },
    codeserver: { state: codeserverOf(instance).state },
    lifecycle_reason: instance.lifecycleReason,
    created_at: instance.createdAt,
    updated_at: instance.updatedAt,
    state: instance.state,
  };
}

/** The container if the caller may see it (owner or admin); anything else is a 404. */
export const visibleContainer = (instances: Instances, id: string, principal: Principal | null): Promise<Instance> => visibleInstance(instances, id, principal, 'dev', 'dev container');

export const requireActive = (instance: Instance, allowed?: readonly Lifecycle[]): void => requireLifecycle(instance, 'dev container', allowed);
