import type { Logger } from '../log/logger.ts';
import type { MigrationSet } from '../db/migrator.ts';
import type { MountedRoute } from '../http/route.ts';
import type { JobDefinition } from '../jobs/job.ts';
import type { MountedWebSocketRoute } from '../ws/websocket-route.ts';
import type { MountedRawHandler } from '../http/raw-handler.ts';
import type { MountedFrontHandler } from '../http/front-door.ts';
import { isUnderPrefix } from '../http/path-pattern.ts';
import type { PanelPlugin, PluginContext, PluginContributions } from './plugin.ts';
import type { EventCatalogue } from '../events/event-catalogue.ts';

/** Boot stops with this; the message lists every problem found, not just the first. */
export class PluginBootError extends Error {
  constructor(readonly problems: string[]) {
    super(`Plugins cannot be loaded:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'PluginBootError';
  }
}

/** URL space the core keeps for itself; no plugin may mount inside it. */
export const corePrefixes = ['/api/auth', '/api/admin', '/api/billing', '/api/events', '/healthz', '/readyz', '/openapi.json', '/docs', '/metrics'];

const idPattern = /^[a-z][a-z0-9-]{1,31}$/;

export interface PreparedPlugin {
  plugin: PanelPlugin;
  config: unknown;
  prefixes: string[];
}

/** Picks the enabled plugins and validates their ids, prefixes and settings, all before any setup runs. */
export function preparePlugins(available: readonly PanelPlugin[], enabled: readonly string[], settings: Readonly<Record<string, unknown>>): PreparedPlugin[] {
  const problems: string[] = [];
  const byId = new Map<string, PanelPlugin>();
  for (const plugin of available) {
    if (!idPattern.test(plugin.id)) problems.push(`plugin id "${plugin.id}" must match ${idPattern}`);
    if (byId.has(plugin.id)) problems.push(`two plugins have the id "${plugin.id}"`);
    byId.set(plugin.id, plugin);
  }
  const prepared: PreparedPlugin[] = [];
  for (const id of new Set(enabled)) {
    const plugin = byId.get(id);
    if (!plugin) {
      problems.push(`plugins.enabled names "${id}", which does not exist (available: ${[...byId.keys()].join(', ') || 'none'})`);
      continue;
    }
    const prefixes = plugin.prefixes ?? [`/api/${plugin.id}`];
    for (const prefix of prefixes) {
      if (!/^\/[A-Za-z0-9_\-./]*[A-Za-z0-9_-]$/.test(prefix)) problems.push(`plugin "${id}": prefix "${prefix}" must be an absolute path without a trailing slash`);
      for (const reserved of corePrefixes) {
        if (isUnderPrefix(prefix, reserved) || isUnderPrefix(reserved, prefix)) problems.push(`plugin "${id}": prefix ${prefix} clashes with the core's ${reserved}`);
      }
      for (const other of prepared) {
        for (const theirs of other.prefixes) {
          if (isUnderPrefix(prefix, theirs) || isUnderPrefix(theirs, prefix)) problems.push(`plugin "${id}": prefix ${prefix} clashes with plugin "${other.plugin.id}"'s ${theirs}`);
        }
      }
    }
    let config: unknown = settings[id] ?? {};
    if (plugin.configSchema) {
      const parsed = plugin.configSchema.safeParse(config);
      if (parsed.success) config = parsed.data;
      else for (const issue of parsed.error.issues) problems.push(`plugins.config.${[id, ...issue.path.map(String)].join('.')}: ${issue.message}`);
    }
    prepared.push({ plugin, config, prefixes });
  }
  for (const id of Object.keys(settings)) {
    if (!byId.has(id)) problems.push(`plugins.config has settings for "${id}", which does not exist`);
  }
  if (problems.length > 0) throw new PluginBootError(problems);
  return prepared;
}

/** Adds the enabled plugins' events to the catalogue; an id outside `<plugin id>.` or taken twice stops the boot. */
export function registerPluginEvents(catalogue: EventCatalogue, prepared: readonly PreparedPlugin[]): void {
  const problems = prepared.flatMap((p) => catalogue.register(p.plugin.id, p.plugin.events ?? [], { prefixed: true }).map((problem) => `plugin "${p.plugin.id}": ${problem}`));
  if (problems.length > 0) throw new PluginBootError(problems);
}

export function pluginMigrationSets(prepared: readonly PreparedPlugin[]): MigrationSet[] {
  return prepared.filter((p) => p.plugin.migrationsDir).map((p) => ({ owner: p.plugin.id, dir: p.plugin.migrationsDir as string }));
}

export interface LoadedPlugins {
  routes: MountedRoute[];
  jobs: JobDefinition[];
  websockets: MountedWebSocketRoute[];
  rawHttp: MountedRawHandler[];
  frontHttp: MountedFrontHandler[];
  openApiTags: Array<{ name: string; description: string }>;
  /** Disposes the plugins in reverse order; one failing dispose does not stop the rest. */
  dispose(log: Logger): Promise<void>;
}

function place(path: string, prepared: PreparedPlugin, what: string, problems: string[]): string {
  const { plugin, prefixes } = prepared;
  if (!path.startsWith('/')) problems.push(`plugin "${plugin.id}": ${what} path "${path}" must start with /`);
  if (!plugin.prefixes) return path === '/' ? (prefixes[0] as string) : `${prefixes[0]}${path}`;
  if (!prefixes.some((prefix) => isUnderPrefix(path, prefix))) problems.push(`plugin "${plugin.id}": ${what} ${path} is outside its prefixes (${prefixes.join(', ')})`);
  return path;
}

const normalise = (path: string): string => path.replace(/:[^/]+/g, ':');

/** Runs each plugin's setup with its context, then validates and places what it contributed. */
export async function setupPlugins(
  prepared: readonly PreparedPlugin[],
  contextFor: (p: PreparedPlugin) => PluginContext<unknown>,
  coreRoutes: readonly MountedRoute[],
  log: Logger,
): Promise<LoadedPlugins> {
  const problems: string[] = [];
  const contributions: Array<{ prepared: PreparedPlugin; contributed: PluginContributions }> = [];
  const routes: MountedRoute[] = [];
  const jobs: JobDefinition[] = [];
  const websockets: MountedWebSocketRoute[] = [];
  const rawHttp: MountedRawHandler[] = [];
  const frontHttp: MountedFrontHandler[] = [];
  const openApiTags: Array<{ name: string; description: string }> = [];
  const seenRoutes = new Map(coreRoutes.map((r) => [`${r.route.method} ${normalise(r.fullPath)}`, r.owner]));
  const seenSockets = new Map<string, string>();
  const loaded: LoadedPlugins = {
    routes,
    jobs,
    websockets,
    rawHttp,
    frontHttp,
    openApiTags,
    async dispose(log) {
      for (const { prepared: p, contributed } of [...contributions].reverse()) {
        try {
          await contributed.dispose?.();
        } catch (err) {
          log.error({ err, plugin: p.plugin.id }, 'plugin dispose failed');
        }
      }
    },
  };
  for (const p of prepared) {
    let contributed: PluginContributions;
    try {
      contributed = await p.plugin.setup(contextFor(p));
    } catch (err) {
      // The plugins set up before this one may hold sockets or timers: release them first.
      await loaded.dispose(log);
      throw err;
    }
    contributions.push({ prepared: p, contributed });
    for (const route of contributed.routes ?? []) {
      const fullPath = place(route.path, p, `route ${route.method.toUpperCase()}`, problems);
      const key = `${route.method} ${normalise(fullPath)}`;
      const owner = seenRoutes.get(key);
      if (owner !== undefined) problems.push(`plugin "${p.plugin.id}": ${route.method.toUpperCase()} ${fullPath} clashes with a route of "${owner}"`);
      seenRoutes.set(key, p.plugin.id);
      routes.push({ owner: p.plugin.id, fullPath, route });
    }
    for (const job of contributed.jobs ?? []) {
      if (!job.id.startsWith(`${p.plugin.id}.`)) problems.push(`plugin "${p.plugin.id}": job id "${job.id}" must start with "${p.plugin.id}."`);
      jobs.push(job);
    }
    for (const route of contributed.websockets ?? []) {
      if (!route.path && !route.host) problems.push(`plugin "${p.plugin.id}": a WebSocket route needs a path or a host matcher`);
      if ((route.onConnection === undefined) === (route.onUpgrade === undefined)) problems.push(`plugin "${p.plugin.id}": a WebSocket route needs exactly one of onConnection and onUpgrade`);
      const fullPath = route.path === undefined ? null : place(route.path, p, 'WebSocket', problems);
      if (fullPath !== null && !route.host) {
        const owner = seenSockets.get(normalise(fullPath));
        if (owner !== undefined) problems.push(`plugin "${p.plugin.id}": WebSocket ${fullPath} clashes with one of "${owner}"`);
        seenSockets.set(normalise(fullPath), p.plugin.id);
      }
      websockets.push({ owner: p.plugin.id, fullPath, route });
    }
    openApiTags.push(...(contributed.openApiTags ?? []));
    for (const handler of contributed.rawHttp ?? []) {
      if (!handler.host && !handler.pathPrefix) problems.push(`plugin "${p.plugin.id}": raw handler "${handler.name}" needs a host matcher or a path prefix`);
      const pathPrefix = handler.pathPrefix === undefined ? undefined : place(handler.pathPrefix, p, `raw handler "${handler.name}"`, problems);
      rawHttp.push({ owner: p.plugin.id, handler: { ...handler, pathPrefix } });
    }
    for (const handler of contributed.frontHttp ?? []) frontHttp.push({ owner: p.plugin.id, handler });
  }
  if (problems.length > 0) {
    await loaded.dispose(log);
    throw new PluginBootError(problems);
  }
  return loaded;
}
