import { z } from 'zod';
import { paginationSchema } from '../../../src/plugin-api/index.ts';
import { sessionStates } from './session-machine.ts';
import { cpuQuantity, durationText, memoryQuantity, templateName } from '../templates/template-schema.ts';
import { pageQuery } from '../v1/pages.ts';

const boolParam = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

export const newSessionBody = z.strictObject({
  user: z.string().min(1).max(64).optional().describe('Username; defaults to the caller. Only admins may name another user.'),
  template: templateName,
  name: z
    .string()
    .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'a DNS label: lower-case letters, digits and dashes')
    .optional()
    .describe('Extension: pick the name (unique among live sessions; 409 SESSION_ALREADY_EXISTS). Generated when omitted.'),
  platform: z.string().min(1).max(64).optional(),
  region: z.string().min(1).max(64).optional().describe('Extension (addendum): place only on agents of this region'),
  state: z.enum(['running', 'hibernated']).default('running'),
  resources: z.strictObject({ memory: memoryQuantity.optional(), cpu: cpuQuantity.optional() }).optional(),
  persistent_home: z.boolean().optional(),
  idle_timeout: durationText.optional(),
  tags: z.array(z.string().min(1).max(50)).max(20).default([]),
});

export const sessionSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    namespace: z.string(),
    user: z.string(),
    template: z.string(),
    platform: z.string(),
    region: z.string().nullable(),
    agent_id: z.string(),
    state: z.enum(sessionStates),
    resources: z.record(z.string(), z.string()),
    persistent_home: z.boolean(),
    idle_timeout: z.string(),
    tags: z.array(z.string()),
    status: z.object({
      phase: z.string(),
      message: z.string(),
      pod_ip: z.string().nullable(),
      pod_name: z.string().nullable(),
      vnc_url: z.string().nullable(),
      container_id: z.string().nullable(),
      started_at: z.string().nullable(),
      error_code: z.string().nullable(),
    }),
    platform_metadata: z.record(z.string(), z.unknown()),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
    last_activity: z.iso.datetime(),
  })
  .meta({ id: 'StreamspaceSession' });

export const sessionListQuery = pageQuery(20).extend({
  user: z.string().min(1).max(64).optional(),
  template: z.string().min(1).max(63).optional(),
  platform: z.string().min(1).max(64).optional(),
  agent_id: z.string().min(1).max(128).optional(),
  state: z.enum(sessionStates).optional().describe('Terminated sessions are listed only with state=terminated'),
  tags: z
    .string()
    .max(1000)
    .transform((s) =>
      s
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean),
    )
    .optional()
    .describe('Comma-separated; sessions carrying all of them'),
  sort: z.enum(['created_at', 'updated_at', 'user', 'state']).default('created_at'),
  order: z.enum(['asc', 'desc']).default('desc'),
});

export const sessionListSchema = z.object({ sessions: z.array(sessionSchema), pagination: paginationSchema });

export const logsQuery = z.object({
  tail: z.coerce.number().int().min(1).max(5000).default(100),
  timestamps: boolParam.default(true),
  follow: boolParam
    .default(false)
    .refine((v) => !v, 'following logs is not supported; poll with tail')
    .describe('Not supported: false only (poll with tail instead)'),
});

export const exampleSession = {
  id: '770e8400-e29b-41d4-a716-446655440002',
  name: 'john-doe-firefox-browser-abc123',
  namespace: 'streamspace',
  user: 'john.doe',
  template: 'firefox-browser',
  platform: 'docker',
  region: 'us-east-1',
  agent_id: 'docker-host-01',
  state: 'pending',
  resources: { memory: '2Gi', cpu: '1000m' },
  persistent_home: true,
  idle_timeout: '30m',
  tags: ['project-alpha', 'development'],
  status: { phase: 'Pending', message: 'Session provisioning in progress...', pod_ip: null, pod_name: null, vnc_url: null, container_id: null, started_at: null, error_code: null },
  platform_metadata: { namespace: 'streamspace', deployment_name: 'john-doe-firefox-browser-abc123' },
  created_at: '2025-11-22T10:45:00Z',
  updated_at: '2025-11-22T10:45:00Z',
  last_activity: '2025-11-22T10:45:00Z',
};
