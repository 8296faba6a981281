import type { EventDefinition } from './event-definition.ts';

/** Publishing something the catalogue does not allow is a programming error: it throws this. */
export class EventContractError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventContractError';
  }
}

/**
 * Every event the running build can publish: the core's and each enabled plugin's. The SSE
 * route's documentation and the OpenAPI document (`x-events`) list them.
 */
export class EventCatalogue {
  private readonly byId = new Map<string, { owner: string; definition: EventDefinition }>();

  /** Adds an owner's definitions; a plugin's ids must start with `<plugin id>.`. Returns the problems found. */
  register(owner: string, definitions: readonly EventDefinition[], options: { prefixed: boolean }): string[] {
    const problems: string[] = [];
    for (const definition of definitions) {
      if (!/^[a-z][a-z0-9-]*\.[a-z][a-z0-9_.]*$/.test(definition.id)) problems.push(`event "${definition.id}" of ${owner} must look like <owner>.<name>`);
      else if (options.prefixed && !definition.id.startsWith(`${owner}.`)) problems.push(`event "${definition.id}" of plugin "${owner}" must start with "${owner}."`);
      const taken = this.byId.get(definition.id);
      if (taken) problems.push(`event "${definition.id}" of ${owner} is already defined by ${taken.owner}`);
      if (problems.length === 0) this.byId.set(definition.id, { owner, definition });
    }
    return problems;
  }

  get(id: string): EventDefinition | undefined {
    return this.byId.get(id)?.definition;
  }

  /** Throws unless `definition` is the registered one (a stale or foreign copy is refused too). */
  require(definition: EventDefinition): void {
    const known = this.byId.get(definition.id);
    if (!known) throw new EventContractError(`event "${definition.id}" is not in the catalogue; declare it in the plugin's \`events\``);
    if (known.definition !== definition) throw new EventContractError(`event "${definition.id}" is published with a definition other than the registered one`);
  }

  list(): Array<{ owner: string; definition: EventDefinition }> {
    return [...this.byId.values()].sort((a, b) => a.definition.id.localeCompare(b.definition.id));
  }

  ids(): string[] {
    return this.list().map((entry) => entry.definition.id);
  }
}
