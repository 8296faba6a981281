import { z } from 'zod';

const templateSchema = z.strictObject({
  display_name: z.string().min(1).max(100),
  /** The container's workload; null: an idle sample workload. */
  command: z.string().min(1).nullable().default(null),
  ready_pattern: z.string().min(1).nullable().default(null),
  /** The IDE, started on $PORT: `code-server --auth none --bind-addr 127.0.0.1:$PORT` in production; null: the IDE stand-in. */
  ide_command: z.string().min(1).nullable().default(null),
  resources: z
    .strictObject({ cpu_cores: z.number().positive().max(256), memory_mb: z.number().int().min(64), disk_mb: z.number().int().min(64) })
    .default({ cpu_cores: 2, memory_mb: 4096, disk_mb: 20480 }),
});
export type DevTemplate = z.infer<typeof templateSchema>;

/** `plugins.config.dev`: vmid range, templates, IDE token and session lifetimes, proxy timeouts. The IDE host settings are core (`ide.*`). */
export const devConfigSchema = z
  .strictObject({
    vmid_min: z.number().int().min(1).default(100),
    vmid_max: z.number().int().min(1).default(999_999),
    templates: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/), templateSchema).default({
      default: { display_name: 'Dev container', command: null, ready_pattern: null, ide_command: null, resources: { cpu_cores: 2, memory_mb: 4096, disk_mb: 20480 } },
    }),
    default_template: z.string().default('default'),
    /** Life of an IDE link (single use). */
    token_ttl_s: z.number().int().min(10).max(600).default(60),
    /** Longest life of an IDE session (the cookie); it ends earlier with the sign-in it came from. */
    session_ttl_s: z
      .number()
      .int()
      .min(300)
      .max(7 * 86_400)
      .default(12 * 3600),
    /** An IDE silent this long answers 504. */
    proxy_idle_timeout_ms: z.number().int().min(1000).default(60_000),
    /** How often open IDE WebSockets are checked again, for revocations no event announced. */
    socket_recheck_ms: z.number().int().min(500).default(5_000),
    /**
     * Proxied IDE WebSockets one user may have open at once, across every replica. code-server
     * opens several per window (the workbench, its extension host, terminals), so this allows a
     * handful of windows; past it the upgrade answers 429 IDE_SOCKET_LIMIT.
     */
    max_sockets_per_user: z.number().int().min(1).default(50),
  })
  .refine((c) => c.vmid_min <= c.vmid_max, { message: 'vmid_min must not exceed vmid_max', path: ['vmid_min'] })
  .refine((c) => c.default_template in c.templates, { message: 'default_template must name one of templates', path: ['default_template'] });
export type DevConfig = z.infer<typeof devConfigSchema>;
