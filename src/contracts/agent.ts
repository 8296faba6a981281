import { z } from 'zod';

/**
 * The agent contract v1 (AGENT-CONTRACT.md) as schemas: the API's agentClient validates
 * what agents answer with these, and the reference agent builds its answers from them, so
 * the two ends cannot drift apart. Unknown extra fields are allowed and kept.
 */

export const workloadStates = ['installing', 'stopped', 'starting', 'running', 'stopping', 'crashed'] as const;
export const workloadStateSchema = z.enum(workloadStates);
export type WorkloadState = z.infer<typeof workloadStateSchema>;

export const agentErrorSchema = z.looseObject({ error: z.string(), code: z.string() });
export type AgentErrorBody = z.infer<typeof agentErrorSchema>;

export const healthSchema = z.looseObject({
  status: z.literal('ok'),
  agent: z.looseObject({ version: z.string(), uptime_s: z.number().nonnegative() }),
});
export type Health = z.infer<typeof healthSchema>;

/** `/ready` body. Readiness is semantic: only HTTP 200 with `ready === true` counts. */
export const readySchema = z.looseObject({ ready: z.boolean(), reason: z.string().optional() });
export type Ready = z.infer<typeof readySchema>;

export const statusSchema = z.looseObject({
  state: workloadStateSchema,
  since: z.iso.datetime({ offset: true }),
  pid: z.number().int().nullable().optional(),
  uptime_s: z.number().nonnegative().nullable().optional(),
  resources: z
    .looseObject({
      cpu_percent: z.number().nonnegative().optional(),
      memory_bytes: z.number().nonnegative().optional(),
      disk_bytes: z.number().nonnegative().optional(),
    })
    .optional(),
  codeserver: z.looseObject({ state: z.enum(['running', 'stopped']), port: z.number().int().min(1).max(65535).nullable() }).optional(),
  backup: z
    .looseObject({
      in_progress: z.string().nullable(),
      /**
       * Extension (allowed by "unknown extra fields"): how the agent's last restore ended, so
       * the API can tell a failed restore from a finished one. Agents without it are treated
       * as "done" once `in_progress` no longer names the restore.
       */
      last_restore: z
        .looseObject({ id: z.string(), state: z.enum(['completed', 'failed']), error: z.string().nullable().optional(), finished_at: z.iso.datetime({ offset: true }) })
        .nullable()
        .optional(),
    })
    .optional(),
});
export type LastRestore = NonNullable<NonNullable<Status['backup']>['last_restore']>;
export type Status = z.infer<typeof statusSchema>;

/** Answer of POST /start, /stop, /restart and of the code-server controls. */
export const powerAnswerSchema = z.looseObject({ state: z.string() });
export type PowerAnswer = z.infer<typeof powerAnswerSchema>;

export const consoleCommandSchema = z.strictObject({
  command: z
    .string()
    .min(1)
    .max(4096)
    .refine((c) => !c.includes('\0'), 'must not contain NUL'),
});
export const emptyObjectSchema = z.looseObject({});

export const consoleLogsSchema = z.looseObject({ lines: z.array(z.string()).max(1000) });
export type ConsoleLogs = z.infer<typeof consoleLogsSchema>;

/** Console WebSocket frames (text, JSON). */
export const consoleServerFrameSchema = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('line'), data: z.string() }),
  z.looseObject({ type: z.literal('state'), state: workloadStateSchema }),
]);
export const consoleClientFrameSchema = z.looseObject({ type: z.literal('command'), command: consoleCommandSchema.shape.command });

export const backupStates = ['in_progress', 'completed', 'failed'] as const;
export const agentBackupSchema = z.looseObject({
  id: z.string().min(1),
  name: z.string(),
  state: z.enum(backupStates),
  size_bytes: z.number().int().nonnegative().nullable(),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .nullable(),
  created_at: z.iso.datetime({ offset: true }),
  completed_at: z.iso.datetime({ offset: true }).nullable(),
});
export type AgentBackup = z.infer<typeof agentBackupSchema>;
export const backupListSchema = z.looseObject({ backups: z.array(agentBackupSchema) });
export const backupAnswerSchema = z.looseObject({ backup: agentBackupSchema });
export const createBackupSchema = z.strictObject({ name: z.string().min(1).max(100).optional() });

export const fileEntrySchema = z.looseObject({
  name: z.string(),
  type: z.enum(['file', 'dir']),
  size_bytes: z.number().int().nonnegative(),
  modified_at: z.iso.datetime({ offset: true }),
});
export const fileListSchema = z.looseObject({ path: z.string(), entries: z.array(fileEntrySchema) });
export const fileEntryAnswerSchema = z.looseObject({ entry: fileEntrySchema });

/** Every JSON endpoint: method, path, and the schema of its success body. */
export const agentEndpoints = {
  health: { method: 'GET', path: '/health', answer: healthSchema },
  ready: { method: 'GET', path: '/ready', answer: readySchema },
  status: { method: 'GET', path: '/status', answer: statusSchema },
  start: { method: 'POST', path: '/start', answer: powerAnswerSchema },
  stop: { method: 'POST', path: '/stop', answer: powerAnswerSchema },
  restart: { method: 'POST', path: '/restart', answer: powerAnswerSchema },
  consoleCommand: { method: 'POST', path: '/console/command', answer: emptyObjectSchema },
  consoleLogs: { method: 'GET', path: '/console/logs', answer: consoleLogsSchema },
  listBackups: { method: 'GET', path: '/backups', answer: backupListSchema },
  createBackup: { method: 'POST', path: '/backups', answer: backupAnswerSchema },
  restoreBackup: { method: 'POST', path: '/backups/restore', answer: backupAnswerSchema },
  deleteBackup: { method: 'DELETE', path: '/backups/:id', answer: null },
  listFiles: { method: 'GET', path: '/files', answer: fileListSchema },
  deleteFile: { method: 'DELETE', path: '/files', answer: null },
  makeDirectory: { method: 'POST', path: '/files/mkdir', answer: fileEntryAnswerSchema },
  codeserverStart: { method: 'POST', path: '/dev/codeserver/start', answer: powerAnswerSchema },
  codeserverStop: { method: 'POST', path: '/dev/codeserver/stop', answer: powerAnswerSchema },
  codeserverRestart: { method: 'POST', path: '/dev/codeserver/restart', answer: powerAnswerSchema },
} as const;
export type AgentEndpoint = keyof typeof agentEndpoints;
