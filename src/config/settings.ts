import { z } from 'zod';
import { configSchema, envNameFor, secretKeys } from './schema.ts';

/** How an environment variable's text becomes a config value. */
export type SettingKind = 'string' | 'number' | 'boolean' | 'list' | 'json';

export interface Setting {
  key: string;
  env: string;
  kind: SettingKind;
  nullable: boolean;
  secret: boolean;
  description: string;
}

function unwrap(schema: z.ZodType): { inner: z.ZodType; nullable: boolean; description: string | undefined } {
  let current: z.ZodType = schema;
  let nullable = false;
  let description = schema.description;
  for (;;) {
    if (current instanceof z.ZodNullable || current instanceof z.ZodOptional || current instanceof z.ZodDefault) {
      nullable ||= current instanceof z.ZodNullable;
      current = current.unwrap() as z.ZodType;
      description ??= current.description;
      continue;
    }
    return { inner: current, nullable, description };
  }
}

function kindOf(schema: z.ZodType): SettingKind {
  if (schema instanceof z.ZodNumber) return 'number';
  if (schema instanceof z.ZodBoolean) return 'boolean';
  // A list of objects (billing.plans) is JSON in env; only lists of plain values are comma-separated.
  if (schema instanceof z.ZodArray) return schema.element instanceof z.ZodObject || schema.element instanceof z.ZodRecord ? 'json' : 'list';
  if (schema instanceof z.ZodRecord || schema instanceof z.ZodObject) return 'json';
  return 'string';
}

function collect(shape: Record<string, z.ZodType>, prefix: string, out: Setting[]): void {
  for (const [name, field] of Object.entries(shape)) {
    const key = prefix ? `${prefix}.${name}` : name;
    const { inner, nullable, description } = unwrap(field);
    if (inner instanceof z.ZodObject) {
      collect(inner.shape, key, out);
      continue;
    }
    out.push({ key, env: envNameFor(key), kind: kindOf(inner), nullable, secret: secretKeys.has(key), description: description ?? '' });
  }
}

/** Every leaf setting of the config schema, in declaration order: the env table and README table come from here. */
export function listSettings(): Setting[] {
  const out: Setting[] = [];
  collect(configSchema.shape, '', out);
  return out;
}

/**
 * Turns an environment string into the value the schema expects. Text that cannot be
 * converted is returned unchanged, so the schema reports it with the expected type.
 */
export function parseEnvValue(setting: Setting, raw: string): unknown {
  const text = raw.trim();
  if (setting.nullable && text === '') return null;
  switch (setting.kind) {
    case 'number': {
      const n = Number(text);
      return text !== '' && Number.isFinite(n) ? n : raw;
    }
    case 'boolean':
      if (/^(true|1|yes|on)$/i.test(text)) return true;
      if (/^(false|0|no|off)$/i.test(text)) return false;
      return raw;
    case 'list':
      return text
        .split(',')
        .map((part) => part.trim())
        .filter((part) => part !== '');
    case 'json':
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return raw;
      }
    case 'string':
      return raw;
  }
}
