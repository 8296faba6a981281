import { z } from 'zod';

const templateSchema = z.strictObject({
  display_name: z.string().min(1).max(100),
  /** Shell command of the workload; null runs the reference agent's sample game server. */
  command: z.string().min(1).nullable().default(null),
  /** A console line that means "ready" (regular expression); null: ready once started. */
  ready_pattern: z.string().min(1).nullable().default(null),
  install_command: z.string().min(1).nullable().default(null),
  resources: z
    .strictObject({
      cpu_cores: z.number().positive().max(256),
      memory_mb: z.number().int().min(64),
      disk_mb: z.number().int().min(64),
    })
    .default({ cpu_cores: 1, memory_mb: 1024, disk_mb: 5120 }),
  backup_limit: z.number().int().min(0).max(1000).default(5),
});
export type GameTemplate = z.infer<typeof templateSchema>;

/** `plugins.config.game` in config: templates, console socket limits, backup bookkeeping. */
export const gameConfigSchema = z
  .strictObject({
    templates: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/), templateSchema).default({
      sample: { display_name: 'Sample game server', command: null, ready_pattern: null, install_command: null, resources: { cpu_cores: 1, memory_mb: 1024, disk_mb: 5120 }, backup_limit: 5 },
    }),
    default_template: z.string().default('sample'),
    console: z
      .strictObject({
        /** Open consoles per server, counted across every replica. */
        max_sockets_per_server: z.number().int().min(1).default(30),
        max_message_bytes: z.number().int().min(64).max(65_536).default(4096),
        /** Messages a client may send at once, then one per `refill_ms`. */
        burst: z.number().int().min(1).default(10),
        refill_ms: z.number().int().min(1).default(100),
        /** Commands all consoles of one server may send together, on every replica (the game server's stdin), at once... */
        server_burst: z.number().int().min(1).default(40),
        /** ...then one more every this many ms. */
        server_refill_ms: z.number().int().min(1).max(60_000).default(50),
        ticket_ttl_s: z.number().int().min(5).max(300).default(60),
        /** A client this far behind on console output is cut off (it reconnects and reads the logs). */
        max_buffered_bytes: z
          .number()
          .int()
          .min(4096)
          .default(1024 * 1024),
        /** Keepalive pings on both sides of the relay; a side that misses a pong is cut. */
        ping_ms: z.number().int().min(100).default(30_000),
      })
      .refine((c) => c.server_burst * c.server_refill_ms <= 86_400_000, {
        message: 'server_burst × server_refill_ms must be at most a day (the shared bucket refills within it)',
        path: ['server_burst'],
      })
      .default({
        max_sockets_per_server: 30,
        max_message_bytes: 4096,
        burst: 10,
        refill_ms: 100,
        server_burst: 40,
        server_refill_ms: 50,
        ticket_ttl_s: 60,
        max_buffered_bytes: 1024 * 1024,
        ping_ms: 30_000,
      }),
    backups: z
      .strictObject({
        reconcile_every_ms: z.number().int().min(500).default(5_000),
        /** An in-progress backup older than this is marked failed. */
        stale_after_ms: z
          .number()
          .int()
          .min(10_000)
          .default(6 * 3_600_000),
        /** A restore the agent has not reported done after this is given up (lifecycle back to active). */
        restore_timeout_ms: z.number().int().min(10_000).default(3_600_000),
      })
      .default({ reconcile_every_ms: 5_000, stale_after_ms: 6 * 3_600_000, restore_timeout_ms: 3_600_000 }),
  })
  .refine((c) => c.default_template in c.templates, { message: 'default_template must name one of templates', path: ['default_template'] });
export type GameConfig = z.infer<typeof gameConfigSchema>;
