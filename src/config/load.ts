import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../lib/project-root.ts';
import { configSchema, secretKeys, type Config } from './schema.ts';
import { listSettings, parseEnvValue } from './settings.ts';

// From the checkout's config/, whether this runs from src/ or from the build in dist/.
export const defaultConfigPath = join(projectRoot, 'config/default.json');

/** Boot stops with this: one message naming every bad key, where it came from, and what is expected. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration; fix these and start again:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadConfigOptions {
  env?: NodeJS.ProcessEnv;
  /** Deep-merged, in order, over the files and env; tests use this instead of mutating process.env. */
  overrides?: ReadonlyArray<DeepPartial<Config>>;
  defaultsPath?: string;
}

export type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

type Json = Record<string, unknown>;

function isPlainObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepMerge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? deepMerge(current, value) : value;
  }
  return out;
}

function setPath(target: Json, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    node[part] = isPlainObject(next) ? { ...next } : {};
    node = node[part] as Json;
  }
  node[parts[parts.length - 1] as string] = value;
}

function getPath(source: Json, key: string): unknown {
  let node: unknown = source;
  for (const part of key.split('.')) node = isPlainObject(node) ? node[part] : undefined;
  return node;
}

function readJsonFile(path: string, problems: string[]): Json {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (isPlainObject(parsed)) return parsed;
    problems.push(`${path}: expected a JSON object`);
  } catch (err) {
    problems.push(`${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return {};
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function describeReceived(key: string, input: Json): string {
  if (secretKeys.has(key)) return '';
  const node = getPath(input, key);
  return node === undefined ? ' (missing)' : ` (got ${JSON.stringify(node)})`;
}

/**
 * Reads config/default.json, then the file named by CONFIG_FILE, then environment variables,
 * then `overrides`; validates the result once and freezes it. Nobody reads process.env after this.
 */
export function loadConfig(options: LoadConfigOptions = {}): Readonly<Config> {
  const env = options.env ?? process.env;
  const problems: string[] = [];
  let merged = readJsonFile(options.defaultsPath ?? defaultConfigPath, problems);
  const extraFile = env.CONFIG_FILE;
  if (extraFile) merged = deepMerge(merged, readJsonFile(extraFile, problems));
  for (const setting of listSettings()) {
    const raw = env[setting.env];
    if (raw === undefined) continue;
    let value = parseEnvValue(setting, raw);
    // A JSON object in env adds to (or changes) the file's entries instead of replacing them all.
    const current = getPath(merged, setting.key);
    if (setting.kind === 'json' && isPlainObject(value) && isPlainObject(current)) value = deepMerge(current, value);
    setPath(merged, setting.key, value);
  }
  for (const layer of options.overrides ?? []) merged = deepMerge(merged, layer);
  if (problems.length > 0) throw new ConfigError(problems);

  const result = configSchema.safeParse(merged);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = issue.path.map(String).join('.');
      const known = listSettings().find((s) => key === s.key || key.startsWith(`${s.key}.`));
      const source = known ? ` (env ${known.env})` : '';
      const received = issue.code === 'unrecognized_keys' ? '' : describeReceived(key, merged);
      problems.push(`${key || '(root)'}${source}: ${issue.message}${received}`);
    }
    throw new ConfigError(problems);
  }
  return deepFreeze(result.data);
}
