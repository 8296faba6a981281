import type { Logger } from '../log/logger.ts';
import type { RouteDefinition } from '../http/route.ts';
import type { JobDefinition } from '../jobs/job.ts';
import type { CoreModule } from './core-module.ts';

/** Resolves when `promise` settles or after `ms`, whichever is first; never rejects. */
export function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.then(
      () => undefined,
      () => undefined,
    ),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * The modules of one server, in boot order. `add` records a built module; `start` starts them
 * in order; `shutdown` drains them together and stops them in reverse. A module that was built
 * but never started is stopped too, so a failed boot releases whatever was opened.
 */
export class ModuleStack {
  private readonly modules: CoreModule[] = [];
  private stopped: Promise<void> | null = null;

  constructor(private readonly log: Logger) {}

  add<M extends CoreModule>(module: M): M {
    this.modules.push(module);
    return module;
  }

  get routes(): RouteDefinition[] {
    return this.modules.flatMap((m) => m.routes ?? []);
  }

  get jobs(): JobDefinition[] {
    return this.modules.flatMap((m) => m.jobs ?? []);
  }

  async start(): Promise<void> {
    for (const module of this.modules) await module.start?.();
  }

  /** Drains (all at once, up to `graceMs`) and stops (in reverse, each up to `graceMs`); safe to call twice. */
  shutdown(graceMs: number): Promise<void> {
    this.stopped ??= (async () => {
      await Promise.all(
        this.modules.map((m) =>
          m.drain
            ? settleWithin(
                this.guard(m, 'drain', () => m.drain?.(graceMs)),
                graceMs,
              )
            : undefined,
        ),
      );
      for (const module of [...this.modules].reverse()) {
        if (module.stop)
          await settleWithin(
            this.guard(module, 'stop', () => module.stop?.()),
            graceMs,
          );
      }
    })();
    return this.stopped;
  }

  private async guard(module: CoreModule, phase: string, run: () => Promise<void> | undefined): Promise<void> {
    try {
      await run();
    } catch (err) {
      this.log.error({ err, module: module.name, phase }, 'module failed to shut down cleanly; continuing with the rest');
    }
  }
}
