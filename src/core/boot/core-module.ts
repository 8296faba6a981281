import type { RouteDefinition } from '../http/route.ts';
import type { JobDefinition } from '../jobs/job.ts';

/**
 * One area of the core (auth, billing, instances...): what it contributes and how it starts
 * and stops. A module is built with what earlier modules return, so boot order is the order
 * of dependencies; nothing reaches into another module's internals.
 */
export interface CoreModule {
  name: string;
  routes?: RouteDefinition[];
  jobs?: JobDefinition[];
  /** Runs once every module is built, in boot order (connections, background work, listening). */
  start?(): Promise<void>;
  /**
   * Shutdown, first phase: stop taking new work and let what is in flight finish. Every
   * module drains at once, under one grace deadline.
   */
  drain?(graceMs: number): Promise<void>;
  /** Shutdown, second phase: release what the module holds. Modules stop in reverse boot order. */
  stop?(): Promise<void>;
}
