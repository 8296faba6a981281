import { z } from 'zod';

/**
 * The shape of the panel's configuration. Defaults live in `config/default.json` (one
 * place an operator reads), so every key here is required: a key missing from the file is
 * a boot error, not a silent `undefined`.
 */

const rateLimitSchema = z.strictObject({
  limit: z.number().int().positive().describe('requests allowed per window'),
  window_s: z.number().int().positive().describe('window length in seconds'),
});

const urlString = z.url({ protocol: /^https?$/ });

const planSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/),
  name: z.string().min(1).max(100),
  /** Stripe price of the subscription; null for a plan nobody pays for (the free plan). */
  price_id: z.string().min(1).nullable(),
  /** Per billing period, in the currency's minor unit (cents); orders plans for upgrade and downgrade. */
  amount: z.number().int().min(0),
  currency: z.string().regex(/^[a-z]{3}$/),
  limits: z.strictObject({
    game_servers: z.number().int().min(0),
    dev_containers: z.number().int().min(0),
    backups_per_server: z.number().int().min(0),
  }),
});

const billingSchema = z
  .strictObject({
    stripe_secret_key: z.string().min(8).nullable().describe('Stripe secret key; unset: billing routes answer 503 BILLING_NOT_CONFIGURED and everyone has the default plan.'),
    stripe_webhook_secret: z.string().min(8).nullable().describe('Signing secret of the Stripe webhook endpoint (whsec_...).'),
    stripe_api_base_url: urlString.nullable().describe('Point the Stripe SDK at another host (a local mock); unset: Stripe itself.'),
    plans: z.array(planSchema).min(1).describe('Plans: id, name, Stripe price_id (null: free), amount, currency, limits {game_servers, dev_containers, backups_per_server} (JSON in env).'),
    default_plan: z.string().describe('The plan of everyone without a live subscription.'),
    success_url: urlString.nullable().describe('Where Checkout sends the user after paying; unset: PUBLIC_URL + /billing?checkout=success.'),
    cancel_url: urlString.nullable().describe('Where Checkout sends a user who gives up; unset: PUBLIC_URL + /billing?checkout=cancel.'),
    portal_return_url: urlString.nullable().describe('Where the Customer Portal returns to; unset: PUBLIC_URL + /billing.'),
    past_due_grace_days: z.number().min(0).max(60).describe('How long a past-due subscription may still create and start instances (then 402 BILLING_PAST_DUE).'),
  })
  .superRefine((b, ctx) => {
    const ids = b.plans.map((p) => p.id);
    if (new Set(ids).size !== ids.length) ctx.addIssue({ code: 'custom', path: ['plans'], message: 'plan ids must be unique' });
    if (!ids.includes(b.default_plan)) ctx.addIssue({ code: 'custom', path: ['default_plan'], message: `must be one of the plan ids (${ids.join(', ')})` });
    const prices = b.plans.map((p) => p.price_id).filter((p) => p !== null);
    if (new Set(prices).size !== prices.length) ctx.addIssue({ code: 'custom', path: ['plans'], message: 'two plans share a Stripe price_id' });
  });

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().min(1).describe('Interface the API listens on.'),
      port: z.number().int().min(0).max(65535).describe('TCP port the API listens on (0 picks a free one).'),
      public_url: urlString.describe('Public base URL of the API: links in mail, IDE path URLs, the always-allowed browser origin.'),
      allowed_origins: z.array(z.url()).describe('Extra browser origins allowed on WebSocket upgrades and CORS (comma-separated in env).'),
      proxy_hops: z.number().int().min(0).max(5).describe('Reverse proxies in front of the API whose X-Forwarded-For entries are trusted (0: none; the client IP is then the socket address).'),
      body_limit_bytes: z.number().int().positive().describe('Largest JSON request body accepted; larger answers 413.'),
      shutdown_grace_ms: z.number().int().nonnegative().describe('How long in-flight requests may run after SIGTERM before connections are cut.'),
      validate_responses: z.boolean().describe('Check every JSON response against its declared schema (tests turn this on).'),
      headers_timeout_ms: z
        .number()
        .int()
        .min(100)
        .describe(
          'A request whose headers are not all in by then (from its first byte, or from the connection on a new one) is answered 408 and its connection closed: slow-header (slowloris) connections.',
        ),
      request_timeout_ms: z.number().int().min(0).describe('A request (headers and body) not fully received by then is answered 408 and closed; 0: no limit. Uploads must finish within it.'),
      keep_alive_timeout_ms: z.number().int().min(100).describe("An idle keep-alive connection is closed after this; behind a proxy that pools connections, keep it above the proxy's idle timeout."),
      max_connections_per_ip: z
        .number()
        .int()
        .min(0)
        .describe(
          "Open TCP connections per peer address (the socket's, never X-Forwarded-For); more are answered 429 TOO_MANY_CONNECTIONS and closed. 0: no cap. Behind a proxy it counts the proxy's connections.",
        ),
      upgrade_rate_burst: z.number().int().min(1).describe('WebSocket upgrade attempts per client IP (past proxy_hops) at once, on all replicas together; past it 429 UPGRADE_RATE_LIMITED.'),
      upgrade_rate_refill_ms: z.number().int().min(1).max(60_000).describe('One more upgrade attempt per client IP every this many ms.'),
    })
    .superRefine((s, ctx) => {
      if (s.request_timeout_ms > 0 && s.headers_timeout_ms > s.request_timeout_ms)
        ctx.addIssue({ code: 'custom', path: ['headers_timeout_ms'], message: 'must not be longer than request_timeout_ms' });
    }),
  cluster: z.strictObject({
    internal_url: urlString.nullable().describe('Where the other replicas reach this one (recorded in the replica registry); unset: the address it listens on, as seen from this machine.'),
  }),
  database: z.strictObject({
    url: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// URL')
      .nullable()
      .describe('PostgreSQL server URL; unset means embedded PostgreSQL (PGlite) in data_dir.'),
    data_dir: z.string().min(1).describe('Directory for the embedded database, local instances and backups.'),
    pool_max: z.number().int().min(1).max(200).describe('Largest number of pooled connections to a PostgreSQL server.'),
    connect_timeout_ms: z.number().int().min(100).describe('A new connection to the PostgreSQL server must be ready within this, or the attempt fails (503 DATABASE_UNAVAILABLE).'),
    query_timeout_ms: z
      .number()
      .int()
      .min(0)
      .describe('The server cancels a statement running longer (statement_timeout); the API gives up on the connection 1 s later if no answer comes at all. 0: no limit.'),
    acquire_timeout_ms: z.number().int().min(100).describe('Longest wait for a pooled connection before the request answers 503 DATABASE_UNAVAILABLE.'),
    pglite_shared_buffers_mb: z.number().int().min(1).max(1024).describe("Embedded database only: PostgreSQL's shared_buffers in MB, all of it resident in the API's process for good."),
    pglite_optimize_wasm: z.boolean().describe("Embedded database only: let V8 recompile PGlite's hot WebAssembly with its optimising tier (more RSS and CPU at start; off: baseline code only)."),
  }),
  log: z.strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).describe('pino log level.'),
  }),
  metrics: z.strictObject({
    token: z.string().min(16, 'use at least 16 characters').nullable().describe('Bearer token for /metrics; unset turns /metrics off (404).'),
  }),
  secrets: z.strictObject({
    jwt_secret: z.string().min(32, 'use at least 32 characters').nullable().describe('Access-token signing key; unset: generated once and stored in the database.'),
    encryption_key: z.string().min(32, 'use at least 32 characters').nullable().describe('Key for secrets at rest; unset: generated once and stored in the database.'),
  }),
  auth: z.strictObject({
    issuer: z.string().min(1).describe('`iss` of access tokens.'),
    audience: z.string().min(1).describe('`aud` of access tokens.'),
    access_token_ttl_s: z.number().int().min(60).max(86_400).describe('Access-token lifetime in seconds.'),
    refresh_token_ttl_s: z.number().int().min(300).describe('Refresh-token lifetime in seconds (each rotation starts a new one).'),
    refresh_grace_s: z.number().min(0).max(5).describe('Window in which a concurrent refresh of a just-spent token gets the same child instead of revoking the family.'),
    reset_token_ttl_s: z.number().int().min(60).max(86_400).describe('Password-reset token lifetime in seconds.'),
    reset_url: urlString.nullable().describe('Portal page that takes a reset token (the mailed link is this URL with ?token=); unset: PUBLIC_URL + /reset-password.'),
    registration_enabled: z.boolean().describe('Whether anyone may create an account with POST /api/auth/register.'),
    argon2_memory_kib: z.number().int().min(19_456, 'OWASP minimum is 19456 KiB').describe('argon2id memory cost in KiB (at least 19456).'),
    argon2_time_cost: z.number().int().min(2, 'OWASP minimum is 2').describe('argon2id iterations (at least 2).'),
    argon2_parallelism: z.number().int().min(1).max(16).describe('argon2id lanes.'),
    hash_concurrency: z.number().int().min(1).max(64).describe('Password hashes computed at once; more wait in a queue.'),
    hash_queue_max: z.number().int().min(1).describe('Logins waiting for a hash beyond this answer 503 AUTH_BUSY with Retry-After.'),
  }),
  bootstrap: z.strictObject({
    admin_username: z.string().nullable().describe('Username of the admin created on first start when no admin exists.'),
    admin_email: z.string().nullable().describe('Email of that first admin.'),
    admin_password: z.string().nullable().describe('Password of that first admin; unset: generated and printed once.'),
  }),
  mail: z.strictObject({
    smtp_url: z
      .string()
      .regex(/^smtps?:\/\//, 'expected smtp:// or smtps://')
      .nullable()
      .describe('SMTP server for outgoing mail; unset: mail stays in the outbox table and a log line says so.'),
    from: z.string().min(3).describe('From address of outgoing mail.'),
  }),
  events: z.strictObject({
    heartbeat_ms: z.number().int().min(1000).describe('Comment line sent on idle event streams, so proxies keep them open.'),
    retention_rows: z.number().int().min(100).describe('Most recent events kept for Last-Event-ID resume (and at most a day of them).'),
  }),
  agents: z.strictObject({
    poll_interval_ms: z.number().int().min(500).describe("How often each instance's agent is polled."),
    poll_connect_timeout_ms: z.number().int().min(50).describe('Connect timeout of a poll call.'),
    poll_timeout_ms: z.number().int().min(100).describe('Total timeout of a poll call.'),
    action_timeout_ms: z.number().int().min(100).describe('Total timeout of power, console and code-server calls.'),
    backup_timeout_ms: z.number().int().min(1000).describe('Total timeout of backup calls.'),
    poll_concurrency: z.number().int().min(1).describe('Polls in flight at once for healthy agents.'),
    suspect_concurrency: z.number().int().min(1).describe('Polls in flight at once for agents that failed lately (kept apart so they never slow healthy ones).'),
    max_backoff_ms: z.number().int().min(1000).describe('Longest wait between polls of an unreachable agent.'),
    max_response_bytes: z.number().int().min(1024).describe('Largest JSON answer accepted from an agent.'),
    max_sockets: z.number().int().min(1).describe('Pooled keep-alive connections per agent host.'),
    breaker_threshold: z.number().int().min(1).describe("Consecutive transport failures that open an agent's circuit."),
    breaker_cooldown_ms: z.number().int().min(100).describe('First cooldown of an open circuit (doubles while the agent stays dead).'),
    provision_deadline_ms: z.number().int().min(1000).describe('How long a new instance may take to become ready before it is marked failed.'),
    work_lease_ms: z.number().int().min(1000).describe('How long a replica holds provisioning or deletion work; after a crash another takes over once it runs out.'),
  }),
  files: z.strictObject({
    max_upload_bytes: z.number().int().min(1).describe('Largest file upload passed to an agent; crossing it mid-stream answers 413 and the partial file is discarded.'),
    stall_timeout_ms: z.number().int().min(1000).describe('A file transfer with no bytes moving for this long is cut (a stall, not a long transfer).'),
  }),
  ide: z.strictObject({
    suffix: z
      .string()
      .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/, 'a DNS name such as ide.example.com')
      .describe('Hosted IDEs are served at dev-<vmid>.<suffix> (a wildcard DNS name pointing at the API).'),
    return_hosted_url: z.boolean().describe('IDE links use the hosted form (dev-<vmid>.<suffix>); false: the path form (<path host>/__ide/<id>/).'),
    scheme: z.enum(['https', 'http']).nullable().describe("Scheme of IDE URLs as browsers see them; unset: PUBLIC_URL's (https in production, http only for local development)."),
    public_port: z
      .number()
      .int()
      .min(1)
      .max(65535)
      .nullable()
      .describe("Port of IDE URLs as browsers see them; unset: PUBLIC_URL's port when the IDE scheme is PUBLIC_URL's, else the scheme's default."),
    path_mode_enabled: z.boolean().describe('Serve IDEs under /__ide/<id>/ too. Off by default: path mode shares an origin with whatever else that host serves.'),
    path_mode_host: z.string().nullable().describe("Only serve path mode on this host (a separate tunnel host, with port if any); unset: PUBLIC_URL's host."),
  }),
  billing: billingSchema,
  provisioner: z.enum(['local', 'static']).describe('Where agents come from: local (reference agents as child processes) or static (a pool admins register).'),
  rate_limits: z.record(z.string().regex(/^[a-z][a-z0-9_.]*$/), rateLimitSchema).describe('Named limits that routes refer to: {"name": {"limit": N, "window_s": S}} (JSON in env).'),
  plugins: z.strictObject({
    enabled: z.array(z.string().regex(/^[a-z][a-z0-9-]*$/)).describe('Plugins to load, by id (comma-separated in env).'),
    config: z.record(z.string(), z.unknown()).describe('Per-plugin settings keyed by plugin id, validated by each plugin (JSON in env).'),
  }),
});

export type Config = z.infer<typeof configSchema>;

/**
 * Environment variables with fixed names (API.md "Configuration conventions"). Every other
 * key is overridable as `PANEL_<SECTION>_<KEY>` in upper case.
 */
export const fixedEnvNames: Readonly<Record<string, string>> = {
  'server.host': 'HOST',
  'server.port': 'PORT',
  'server.public_url': 'PUBLIC_URL',
  'server.allowed_origins': 'ALLOWED_ORIGINS',
  'database.url': 'DATABASE_URL',
  'database.data_dir': 'DATA_DIR',
  'log.level': 'LOG_LEVEL',
  'metrics.token': 'METRICS_TOKEN',
  'secrets.jwt_secret': 'JWT_SECRET',
  'secrets.encryption_key': 'ENCRYPTION_KEY',
  'plugins.enabled': 'PLUGINS',
  'bootstrap.admin_username': 'ADMIN_USERNAME',
  'bootstrap.admin_email': 'ADMIN_EMAIL',
  'bootstrap.admin_password': 'ADMIN_PASSWORD',
  'mail.smtp_url': 'SMTP_URL',
  'billing.stripe_secret_key': 'STRIPE_SECRET_KEY',
  'billing.stripe_webhook_secret': 'STRIPE_WEBHOOK_SECRET',
  'billing.stripe_api_base_url': 'STRIPE_API_BASE_URL',
  'ide.suffix': 'DEV_IDE_SUFFIX',
  'ide.return_hosted_url': 'DEV_IDE_RETURN_HOSTED_URL',
  provisioner: 'PROVISIONER',
};

/** Keys whose values are never printed (config dumps, boot errors). */
export const secretKeys: ReadonlySet<string> = new Set([
  'metrics.token',
  'secrets.jwt_secret',
  'secrets.encryption_key',
  'database.url',
  'bootstrap.admin_password',
  'mail.smtp_url',
  'billing.stripe_secret_key',
  'billing.stripe_webhook_secret',
]);

export function envNameFor(key: string): string {
  return fixedEnvNames[key] ?? `PANEL_${key.replace(/\./g, '_').toUpperCase()}`;
}
