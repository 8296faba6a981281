import { z } from 'zod';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../src/plugin-api/index.ts';
import { newTemplate, type NewTemplate } from './templates/template-schema.ts';

/** `plugins.config.streamspace`: timings of the agent protocol, VNC limits and the seed templates. */
export const streamspaceConfigSchema = z.strictObject({
  /** Told to agents in `register_ack`; an agent silent for 3 intervals goes offline. */
  heartbeat_interval_s: z.number().int().min(1).max(300).default(10),
  /** The login token's lifetime (seed: 24 h). */
  token_ttl_s: z.number().int().min(60).default(86_400),
  namespace: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/)
    .default('streamspace'),
  commands: z
    .strictObject({
      /** A sent command not acknowledged within this is sent again... */
      ack_timeout_ms: z.number().int().min(100).default(5_000),
      /** ...this many times in all, then `timed_out`. */
      max_attempts: z.number().int().min(1).max(20).default(3),
      /** An acknowledged command without a result after this is `timed_out`. */
      result_timeout_ms: z.number().int().min(1_000).default(300_000),
      /** A command for an agent that is away waits this long for it to come back. */
      reconnect_wait_ms: z.number().int().min(0).default(30_000),
      /** Finished commands (and the logs their results carry) are kept this long. */
      keep_days: z.number().int().min(1).default(30),
    })
    .default({ ack_timeout_ms: 5_000, max_attempts: 3, result_timeout_ms: 300_000, reconnect_wait_ms: 30_000, keep_days: 30 }),
  /** PATCH /sessions waits this long for the agent's result (200), then answers 202. */
  state_wait_ms: z.number().int().min(0).default(10_000),
  /** GET /sessions/{id}/logs waits this long for the agent (then 504 AGENT_TIMEOUT). */
  logs_timeout_ms: z.number().int().min(100).default(10_000),
  /** A session in a transitional state this long with no open command is moved on by the reconciler. */
  stuck_after_ms: z.number().int().min(1_000).default(120_000),
  vnc: z
    .strictObject({
      /** Viewers of one session at once, counted across every replica. */
      max_viewers_per_session: z.number().int().min(1).default(4),
      /** Viewers one user may have open at once over all sessions, across every replica (a few sessions, each in a tab or two). */
      max_viewers_per_user: z.number().int().min(1).default(10),
      token_ttl_s: z.number().int().min(5).max(600).default(60),
      /** A viewer waits this long for the agent's `vnc_proxy_ready`. */
      ready_timeout_ms: z.number().int().min(100).default(10_000),
      /** `last_activity` is written at most this often per stream while bytes flow. */
      activity_write_ms: z.number().int().min(100).default(30_000),
    })
    .default({ max_viewers_per_session: 4, max_viewers_per_user: 10, token_ttl_s: 60, ready_timeout_ms: 10_000, activity_write_ms: 30_000 }),
  viewer: z
    .strictObject({
      /**
       * The viewer page's CSP `frame-ancestors`: who may frame `/vnc-viewer/{id}` (`'self'`,
       * `'none'`, or origins such as `https://portal.example.com`), space-separated.
       */
      frame_ancestors: z
        .string()
        .trim()
        .regex(/^[ -~]+$/, 'printable ASCII only')
        .regex(/^[^;,]+$/, 'CSP source expressions, space-separated, without ; or ,')
        .default("'self'"),
    })
    .default({ frame_ancestors: "'self'" }),
  /** Job cadences. */
  sweep_every_ms: z.number().int().min(100).default(1_000),
  idle_every_ms: z.number().int().min(100).default(60_000),
  /**
   * Inserted at start when no template of that name exists (admins' edits are kept); null:
   * the shipped set in config/streamspace-templates.json.
   */
  templates: z.array(newTemplate).nullable().default(null),
});
/** The templates shipped in config/, used when `templates` is not set. */
export function shippedTemplates(): NewTemplate[] {
  // The checkout's config/, also when the plugin runs compiled from dist/.
  const path = join(projectRoot, 'config/streamspace-templates.json');
  return z.array(newTemplate).parse(JSON.parse(readFileSync(path, 'utf8')));
}

export type StreamspaceConfig = z.infer<typeof streamspaceConfigSchema>;
