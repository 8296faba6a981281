import { z } from 'zod';
import { instanceStateSchema, requireLifecycle as requireInstanceLifecycle, visibleInstance, type Instance, type Instances, type Lifecycle, type Principal } from '../../src/plugin-api/index.ts';

/** A game server as the portal sees it: an instance of kind `game`, its template, and its cached state. */
export const serverSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    template: z.string(),
    owner_id: z.uuid(),
    resources: z.object({ cpu_cores: z.number(), memory_mb: z.number(), disk_mb: z.number() }),
    backup_limit: z.number().int(),
    lifecycle_reason: z.string().nullable(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
    state: instanceStateSchema,
  })
  .meta({ id: 'GameServer' });
export type GameServer = z.infer<typeof serverSchema>;

/** What the plugin keeps in the instance's `spec` at creation (a later template edit does not change a running server). */
export interface GameSpec {
  template: string;
  backup_limit: number;
  resources: GameServer['resources'];
  command?: string;
  ready_pattern?: string;
  install_command?: string;
}

export const serverIdParams = z.object({ id: z.uuid().describe('Server id') });

export function toServer(instance: Instance): GameServer {
  const spec = instance.spec as Partial<GameSpec>;
  return {
    id: instance.id,
    name: instance.name,
    template: spec.template ?? 'unknown',
    owner_id: instance.ownerId,
    resources: spec.resources ?? { cpu_cores: 0, memory_mb: 0, disk_mb: 0 },
    backup_limit: spec.backup_limit ?? 0,
    lifecycle_reason: instance.lifecycleReason,
    created_at: instance.createdAt,
    updated_at: instance.updatedAt,
    state: instance.state,
  };
}

/** The server if the caller may see it (its owner, or an admin); anything else is a 404. */
export const visibleServer = (instances: Instances, id: string, principal: Principal | null): Promise<Instance> => visibleInstance(instances, id, principal, 'game', 'server');

/** Work that needs the agent is refused, not dropped, while the panel is doing something else with the server. */
export const requireLifecycle = (instance: Instance, allowed?: readonly Lifecycle[]): void => requireInstanceLifecycle(instance, 'server', allowed);
