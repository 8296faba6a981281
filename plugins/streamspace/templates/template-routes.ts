import { z } from 'zod';
import { AppError, defineRoute, paginationOf, paginationSchema, type PluginContext, type RouteDefinition, type RouteIssue, type RouteRequest } from '../../../src/plugin-api/index.ts';
import type { V1Api } from '../v1/api.ts';
import { v1Invalid } from '../v1/api.ts';
import { v1Errors } from '../v1/api-errors.ts';
import { pageQuery } from '../v1/pages.ts';
import { newTemplate, templateName, templatePatch } from './template-schema.ts';
import { templateView, type Templates } from './template-store.ts';

const base = '/api/v1/templates';

export const templateSchema = newTemplate
  .extend({
    id: z.uuid(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
    description: z.string(),
    environment: z.record(z.string(), z.string()),
    tags: z.array(z.string()),
    icon_url: z.string().nullable(),
  })
  .meta({ id: 'StreamspaceTemplate' });

const exampleTemplate = {
  id: '880e8400-e29b-41d4-a716-446655440003',
  name: 'firefox-browser',
  display_name: 'Firefox Web Browser',
  category: 'Web Browsers',
  description: 'Mozilla Firefox web browser with privacy extensions',
  base_image: 'lscr.io/linuxserver/firefox:latest',
  default_resources: { memory: '2Gi', cpu: '1000m', storage: '10Gi' },
  vnc: { enabled: true, port: 3000, resolution: '1920x1080', color_depth: 24 },
  environment: { PUID: '1000', PGID: '1000', TZ: 'UTC' },
  persistent_home: true,
  idle_timeout: '30m',
  tags: ['browser', 'web', 'privacy'],
  icon_url: 'https://cdn.streamspace.io/icons/firefox.svg',
  local: null,
  created_at: '2025-11-01T08:00:00Z',
  updated_at: '2025-11-15T10:00:00Z',
};

/** A template body that is present but wrong is TEMPLATE_INVALID (seed); a missing field stays MISSING_REQUIRED_FIELD. */
function templateInvalid(issues: RouteIssue[]): Error {
  const first = issues[0] as RouteIssue;
  if (first.location !== 'body' || first.missing) return v1Invalid(issues);
  const field = first.path.join('.') || 'body';
  return v1Errors.templateInvalid(`Template configuration invalid: '${field}' ${first.message}`, { field, issues: issues.map((i) => ({ field: i.path.join('.'), message: i.message })) });
}

const nameParams = z.object({ name: templateName });

/** Seed "Template Management", plus the addendum's admin routes to create, change and delete templates. */
export function templateRoutes(v1: V1Api, templates: Templates, audit: PluginContext<unknown>['audit']): RouteDefinition[] {
  const record = (req: RouteRequest, action: string, name: string) =>
    audit.record({ action: `streamspace.template_${action}`, actorUserId: req.principal?.userId ?? null, ip: req.ip, requestId: req.requestId, details: { name } });
  const admin = (route: RouteDefinition): RouteDefinition => ({ ...v1.route(route), invalid: templateInvalid });
  return [
    v1.route(
      defineRoute({
        method: 'get',
        path: base,
        summary: 'List templates',
        auth: 'user',
        request: { query: pageQuery(50).extend({ category: z.string().min(1).max(100).optional().describe('Exact category, e.g. "Web Browsers"') }) },
        responses: { 200: z.object({ templates: z.array(templateSchema), pagination: paginationSchema }) },
        examples: { responses: { 200: { templates: [exampleTemplate], pagination: { page: 1, limit: 50, total: 1, total_pages: 1 } } } },
        handler: async (req) => {
          const { rows, total } = await templates.list(req.query.category, req.query.page, req.query.limit);
          return { body: { templates: rows.map(templateView), pagination: paginationOf(req.query.page, req.query.limit, total) } };
        },
      }),
    ),
    v1.route(
      defineRoute({
        method: 'get',
        path: `${base}/:name`,
        summary: 'Get a template',
        auth: 'user',
        request: { params: nameParams },
        responses: { 200: templateSchema },
        errors: { 404: 'TEMPLATE_NOT_FOUND' },
        examples: { responses: { 200: exampleTemplate } },
        handler: async (req) => {
          const row = await templates.get(req.params.name);
          if (!row) throw v1Errors.templateNotFound(req.params.name, 404);
          return { body: templateView(row) };
        },
      }),
    ),
    admin(
      defineRoute({
        method: 'post',
        path: base,
        summary: 'Create a template (admin)',
        auth: 'admin',
        request: { body: newTemplate },
        responses: { 201: templateSchema },
        errors: { 400: 'TEMPLATE_INVALID, MISSING_REQUIRED_FIELD', 409: 'TEMPLATE_ALREADY_EXISTS' },
        examples: { body: { ...exampleTemplate, id: undefined, created_at: undefined, updated_at: undefined } },
        handler: async (req) => {
          const created = await templates.create(req.body);
          await record(req, 'created', created.name);
          return { status: 201, body: templateView(created) };
        },
      }),
    ),
    admin(
      defineRoute({
        method: 'patch',
        path: `${base}/:name`,
        summary: 'Change a template (admin)',
        description: 'Any subset of the fields; sessions already created keep what they were created with.',
        auth: 'admin',
        request: { params: nameParams, body: templatePatch },
        responses: { 200: templateSchema },
        errors: { 400: 'TEMPLATE_INVALID', 404: 'TEMPLATE_NOT_FOUND' },
        examples: { body: { idle_timeout: '1h' }, responses: { 200: { ...exampleTemplate, idle_timeout: '1h' } } },
        handler: async (req) => {
          if (Object.keys(req.body).length === 0) throw new AppError(400, 'MISSING_REQUIRED_FIELD', 'Missing required field', 'Send at least one field to change', { field: 'body' });
          const updated = await templates.update(req.params.name, req.body);
          await record(req, 'updated', updated.name);
          return { body: templateView(updated) };
        },
      }),
    ),
    admin(
      defineRoute({
        method: 'delete',
        path: `${base}/:name`,
        summary: 'Delete a template (admin)',
        auth: 'admin',
        request: { params: nameParams },
        responses: { 204: null },
        examples: { params: { name: exampleTemplate.name } },
        errors: { 404: 'TEMPLATE_NOT_FOUND', 409: 'TEMPLATE_IN_USE' },
        handler: async (req) => {
          await templates.remove(req.params.name);
          await record(req, 'deleted', req.params.name);
          return { status: 204 };
        },
      }),
    ),
  ];
}
