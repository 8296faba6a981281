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

export const configSchema = z.strictObject({
  server: z.strictObject({
    host: z.string().min(1).describe('Interface the API listens on.'),
    port: z.number().int().min(0).max(65535).describe('TCP port the API listens on (0 picks a free one).'),
    public_url: urlString.describe('Public base URL of the API: links in mail, IDE path URLs, the always-allowed browser origin.'),
    allowed_origins: z.array(z.url()).describe('Extra browser origins allowed on WebSocket upgrades and CORS (comma-separated in env).'),
    trust_proxy: z.boolean().describe('Trust X-Forwarded-For / X-Forwarded-Proto from a reverse proxy in front of the API.'),
    body_limit_bytes: z.number().int().positive().describe('Largest JSON request body accepted; larger answers 413.'),
    shutdown_grace_ms: z.number().int().nonnegative().describe('How long in-flight requests may run after SIGTERM before connections are cut.'),
    validate_responses: z.boolean().describe('Check every JSON response against its declared schema (tests turn this on).'),
  }),
  database: z.strictObject({
    url: z.string().regex(/^postgres(ql)?:\/\//, 'expected a postgres:// URL').nullable().describe('PostgreSQL server URL; unset means embedded PostgreSQL (PGlite) in data_dir.'),
    data_dir: z.string().min(1).describe('Directory for the embedded database, local instances and backups.'),
    pool_max: z.number().int().min(1).max(200).describe('Largest number of pooled connections to a PostgreSQL server.'),
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
};

/** Keys whose values are never printed (config dumps, boot errors). */
export const secretKeys: ReadonlySet<string> = new Set(['metrics.token', 'secrets.jwt_secret', 'secrets.encryption_key', 'database.url']);

export function envNameFor(key: string): string {
  return fixedEnvNames[key] ?? `PANEL_${key.replace(/\./g, '_').toUpperCase()}`;
}
