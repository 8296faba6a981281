/**
 * The only module plugins import from the core. Everything a plugin needs is here: the
 * declaration helpers, the capability types, the domain errors and shared schemas.
 */
export { definePlugin } from '../core/plugin-host/plugin.ts';
export type { PanelPlugin, PluginContext, PluginContributions } from '../core/plugin-host/plugin.ts';
export { defineRoute } from '../core/http/route.ts';
export type { RouteDefinition, RouteRequest, PrincipalFor, RouteResult, RouteAuth, RateLimitUse, HttpMethod, RouteGuard, RouteIssue } from '../core/http/route.ts';
export type { AudienceSessions, Accounts, AccountView } from '../core/auth/audience-sessions.ts';
export type { Principal } from '../core/http/principal.ts';
export type { JobDefinition, JobContext } from '../core/jobs/job.ts';
export { defineWebSocket } from '../core/ws/websocket-route.ts';
export type { WebSocketRoute, WebSocketDocs, UpgradeContext } from '../core/ws/websocket-route.ts';
export type { Logger } from '../core/log/logger.ts';
export type { RateLimiter, RateLimitState } from '../core/http/rate-limiter.ts';
export {
  AppError,
  ValidationError,
  NotFoundError,
  ConflictError,
  UnauthorizedError,
  ForbiddenError,
  RateLimitedError,
  ServiceUnavailableError,
  PayloadTooLargeError,
} from '../core/http/errors.ts';
export { paginationQuery, paginationOf, paginationSchema } from '../core/http/pagination.ts';
export { RANGE_DESCRIPTION, RANGE_ERROR } from '../core/files/download-ranges.ts';
export type { Instance, NewInstance } from '../core/instances/instance-records.ts';
export type { Instances, InstanceFilter } from './instances.ts';
export type { Agents } from './agents.ts';
export type { Events } from './events.ts';
export type { Audit } from './audit.ts';
export type { Files, AgentByteStreams } from './files.ts';
export type { Proxies, HttpProxy } from './proxies.ts';
export type { Cluster } from './cluster.ts';
export { pipeWebSockets } from '../core/ws/socket-pipe.ts';
export type { PipeOptions, CloseMapping } from '../core/ws/socket-pipe.ts';
export type { Limits, SlotCap, SlotConnection, SlotAcquisition, SocketSlot, SharedRateRule, RateDecision } from './limits.ts';
export { projectRoot } from '../lib/project-root.ts';
export { defineInvariant } from '../core/invariants/invariant.ts';
export type { Invariant, InvariantContext } from '../core/invariants/invariant.ts';
export { defineEvent } from '../core/events/event-definition.ts';
export type { EventDefinition, EventData, EventAudience, PanelEvent } from '../core/events/event-definition.ts';
export { instanceState, instanceDeleted, userSessionsEnded, billingUpdated, backupUpdated } from '../core/events/core-events.ts';
export type { Entitlements } from '../core/billing/entitlements.ts';
export type { PlanLimits } from '../core/billing/plans.ts';
export { instanceStateSchema, withAgentLifecycles } from '../core/instances/instance-state.ts';
export type { InstanceState, Lifecycle } from '../core/instances/instance-state.ts';
export type { AgentTarget } from '../core/agent/agent-client.ts';
export { assertAgentReady, getAgentReady, isAgentReadyResult } from '../core/agent/readiness.ts';
export { openAgentSocket } from '../core/agent/agent-socket.ts';
export { consoleClientFrameSchema } from '../contracts/agent.ts';
export type { Status as AgentStatus, AgentBackup } from '../contracts/agent.ts';
export type { Tickets } from '../core/auth/tickets.ts';
export { sampleCommands } from '../core/instances/local-provisioner.ts';
export type { ProxyCall } from '../core/proxy/reverse-proxy.ts';
export type { RawHttpHandler } from '../core/http/raw-handler.ts';
export type { FrontHttpHandler, FrontRequest } from '../core/http/front-door.ts';
export { hashToken, newOpaqueToken } from '../core/crypto/opaque-token.ts';
export { envelopeFor } from '../core/http/error-envelope.ts';
export { visibleInstance, requireLifecycle } from '../core/instances/instance-access.ts';
export { instanceCrudRoutes } from '../core/instances/instance-crud-routes.ts';
export type { InstanceCrud, InstanceCrudDocs } from '../core/instances/instance-crud-routes.ts';
export { usernameSchema, emailSchema, passwordSchema, roleSchema } from '../core/auth/user-schemas.ts';
export { matchPath } from '../core/http/path-pattern.ts';
export { MethodNotAllowedError } from '../core/http/errors.ts';
