import { z } from 'zod';
import { durationSeconds } from '../contract/duration.ts';

/** Kubernetes-style quantities, as the seed writes them: `2Gi`, `512Mi`; `1000m`, `2`. */
export const memoryQuantity = z.string().regex(/^\d{1,6}(Ki|Mi|Gi|Ti)$/, 'a memory quantity like 512Mi or 2Gi');
export const cpuQuantity = z.string().regex(/^(\d{1,6}m|\d{1,3}(\.\d{1,3})?)$/, 'a CPU quantity like 500m or 2');
export const durationText = z.string().refine((s) => durationSeconds(s) !== null && (durationSeconds(s) as number) > 0, 'a duration like 30m, 2h or 1d');

export const templateName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lower-case letters, digits and dashes, up to 63 characters');

const description = z.string().max(2000);
const environment = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string().max(4096));
const tags = z.array(z.string().min(1).max(50)).max(20);
const iconUrl = z.url().nullable();
/** How a local desktop agent runs the template: a /bin/sh command in the session's X display, and the Debian packages it needs. */
const local = z
  .strictObject({
    command: z.string().min(1).max(1000),
    packages: z
      .array(z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, 'a Debian package name'))
      .max(50)
      .default([]),
  })
  .nullable();

/** A template's editable fields, none defaulted: a PATCH changes only what it names. */
export const templatePatch = z
  .strictObject({
    display_name: z.string().min(1).max(100),
    category: z.string().min(1).max(100),
    description,
    base_image: z.string().min(1).max(500),
    default_resources: z.strictObject({ memory: memoryQuantity, cpu: cpuQuantity, storage: memoryQuantity.optional() }),
    vnc: z.strictObject({
      enabled: z.boolean(),
      port: z.number().int().min(1).max(65_535),
      resolution: z
        .string()
        .regex(/^\d{3,5}x\d{3,5}$/)
        .optional(),
      color_depth: z.union([z.literal(8), z.literal(16), z.literal(24), z.literal(32)]).optional(),
    }),
    environment,
    persistent_home: z.boolean(),
    idle_timeout: durationText,
    tags,
    icon_url: iconUrl,
    local,
  })
  .partial();

/** A template's fields (seed "Get Template Details") with their defaults; the admin routes and config share it. */
export const templateFields = templatePatch.required().extend({
  description: description.default(''),
  environment: environment.default({}),
  persistent_home: z.boolean().default(true),
  idle_timeout: durationText.default('30m'),
  tags: tags.default([]),
  icon_url: iconUrl.default(null),
  local: local.default(null),
});
export type TemplateFields = z.infer<typeof templateFields>;

export const newTemplate = templateFields.extend({ name: templateName });
export type NewTemplate = z.infer<typeof newTemplate>;
