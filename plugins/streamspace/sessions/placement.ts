import type { Knex } from 'knex';
import { AppError } from '../../../src/plugin-api/index.ts';
import { v1Errors } from '../v1/api-errors.ts';
import type { AgentRow } from '../agents/agent-store.ts';
import { liveStates } from './session-machine.ts';

/** The platform the local desktop agent registers as. */
export const localPlatform = 'local';

/**
 * Picks the agent for a new session, inside the creating transaction: only connected,
 * non-draining agents of the platform/region asked for, with a free place, least loaded
 * first. The candidates are locked, so concurrent creations cannot both take the last place.
 * Load counts our own live sessions on the agent or what its heartbeat reports, whichever is more.
 * A template without a `local` section is never placed on a local desktop agent: it could only refuse it.
 */
export async function placeSession(trx: Knex, want: { platform?: string; region?: string; localCapable: boolean }): Promise<AgentRow> {
  if (want.platform === localPlatform && !want.localCapable) {
    throw new AppError(
      400,
      'TEMPLATE_NOT_SUPPORTED',
      'Template not supported',
      `This template has no "local" section, so a local desktop agent cannot run it; leave out "platform" or pick a container platform`,
      { field: 'platform' },
    );
  }
  const what = [want.platform ? `platform '${want.platform}'` : want.localCapable ? 'any platform' : 'any container platform', want.region ? `region '${want.region}'` : null]
    .filter(Boolean)
    .join(' in ');
  const connected = await trx('streamspace_agents')
    .where({ connected: true })
    .modify((q) => {
      if (want.platform) void q.where({ platform: want.platform });
      else if (!want.localCapable) void q.whereNot({ platform: localPlatform });
      if (want.region) void q.where({ region: want.region });
    })
    .orderBy('agent_id')
    .forUpdate()
    .select<AgentRow[]>('*');
  const online = connected.filter((a) => !a.draining);
  if (online.length === 0) {
    throw v1Errors.noAgents(connected.length > 0 ? `${what} (every matching agent is draining)` : what);
  }
  const counts = await trx('streamspace_sessions')
    .whereIn(
      'agent_id',
      online.map((a) => a.agent_id),
    )
    .whereIn('state', liveStates)
    .groupBy('agent_id')
    .select<Array<{ agent_id: string; n: string | number }>>('agent_id', trx.raw('count(*) as n'));
  const used = new Map(counts.map((c) => [c.agent_id, Number(c.n)]));
  const candidates = online
    .map((agent) => {
      const load = Math.max(used.get(agent.agent_id) ?? 0, agent.capacity.current_sessions ?? 0);
      const max = agent.capacity.max_sessions ?? Number.POSITIVE_INFINITY;
      return { agent, load, max, ratio: max === Number.POSITIVE_INFINITY ? 0 : load / Math.max(max, 1) };
    })
    .filter((c) => c.load < c.max)
    .sort((a, b) => a.ratio - b.ratio || a.load - b.load || a.agent.agent_id.localeCompare(b.agent.agent_id));
  const best = candidates[0];
  if (!best) throw v1Errors.capacityExceeded(what);
  return best.agent;
}
