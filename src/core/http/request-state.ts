import type { Logger } from '../log/logger.ts';
import type { Principal } from './principal.ts';

/*
 * What the core's middleware keeps on Koa's `ctx.state`, typed once here so that readers need no
 * casts: request-id sets `requestId`, the access log sets `log`, and a route's auth sets
 * `principal` (absent on public routes and before auth has run).
 */
declare module 'koa' {
  interface DefaultState {
    requestId?: string;
    log?: Logger;
    principal?: Principal;
  }
}
