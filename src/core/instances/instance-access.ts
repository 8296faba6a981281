import { ConflictError, NotFoundError } from '../http/errors.ts';
import type { Principal } from '../http/principal.ts';
import type { Instance } from './instance-records.ts';
import type { Instances } from '../../plugin-api/instances.ts';
import type { Lifecycle } from './instance-state.ts';

/**
 * A plugin's instance if the caller may see it (its owner, or an admin); anything else,
 * including another plugin's instance, is a 404 named after the plugin's noun, never a 403.
 */
export async function visibleInstance(instances: Instances, id: string, principal: Principal | null, plugin: string, noun: string): Promise<Instance> {
  if (!principal) throw new NotFoundError(noun, id);
  const instance = await instances.get(id, principal.role === 'admin' ? null : principal.userId, noun);
  if (instance.plugin !== plugin) throw new NotFoundError(noun, id);
  return instance;
}

/** Work that needs the agent is refused (409 INSTANCE_NOT_ACTIVE), not dropped, while the panel is doing something else with the instance. */
export function requireLifecycle(instance: Instance, noun: string, allowed: readonly Lifecycle[] = ['active']): void {
  const { lifecycle } = instance.state;
  if (allowed.includes(lifecycle)) return;
  const hint =
    lifecycle === 'provisioning' || lifecycle === 'restoring_backup'
      ? 'wait until it is active and retry'
      : lifecycle === 'failed'
        ? 'delete it and create a new one'
        : 'it cannot take this action now';
  throw new ConflictError('INSTANCE_NOT_ACTIVE', `This ${noun} is ${lifecycle}; ${hint}`, { lifecycle });
}
