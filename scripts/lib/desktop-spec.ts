import { execFileSync } from 'node:child_process';
import { z } from 'zod';
import { findProgram } from './desktop-processes.ts';

/** What a desktop runs, from the start_session command's data: kept on disk, so a wake after an agent restart needs nothing more. */
export interface DesktopSpec {
  name: string;
  template: string;
  /** Run with /bin/sh -c in the session's display, e.g. "xterm" or "twm & exec xterm". */
  command: string;
  packages: string[];
  geometry: string;
  depth: number;
  persistentHome: boolean;
  environment: Record<string, string>;
}

const startData = z.looseObject({
  name: z.string().min(1).max(253).optional(),
  template: z.string().max(253).optional(),
  persistent_home: z.boolean().optional(),
  environment: z.record(z.string(), z.string()).optional(),
  vnc: z
    .looseObject({
      resolution: z
        .string()
        .regex(/^\d{3,5}x\d{3,5}$/)
        .optional(),
      color_depth: z.number().int().optional(),
    })
    .optional(),
  local: z.looseObject({ command: z.string().min(1).max(1000), packages: z.array(z.string()).max(50).default([]) }).nullish(),
});

/** Debian package names (Policy §5.6.7): what `packages` may list. */
const debianPackage = /^[a-z0-9][a-z0-9+.-]+$/;

export type SpecProblem = { error: string; error_code: 'TEMPLATE_NOT_SUPPORTED' | 'INVALID_COMMAND' };

/**
 * The desktop a start_session asks for, or why this agent cannot run it: a template without a
 * `local` section is for container agents, and one whose program or packages are missing here
 * would only fail later, inside a desktop nobody can see.
 */
export function desktopSpec(sessionId: string, data: Record<string, unknown>, path: string): DesktopSpec | SpecProblem {
  const parsed = startData.safeParse(data);
  if (!parsed.success) return { error: `start_session data is invalid: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`, error_code: 'INVALID_COMMAND' };
  const d = parsed.data;
  const template = d.template ?? '(unnamed)';
  if (!d.local) {
    return {
      error: `template '${template}' has no "local" section, so a local desktop agent cannot run it; it needs a container agent (Docker or Kubernetes) for its base_image`,
      error_code: 'TEMPLATE_NOT_SUPPORTED',
    };
  }
  const bad = d.local.packages.filter((p) => !debianPackage.test(p));
  if (bad.length > 0) return { error: `template '${template}' lists invalid package names: ${bad.join(', ')}`, error_code: 'INVALID_COMMAND' };
  // The program the command starts: its first word, past an `exec` and variable assignments.
  const program =
    d.local.command
      .trim()
      .split(/\s+/)
      .find((w) => w !== 'exec' && !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w)) ?? '';
  const missing = d.local.packages.filter((p) => !packageInstalled(p));
  if (missing.length > 0) {
    return {
      error: `this agent cannot run template '${template}': the Debian packages ${missing.join(', ')} are not installed here; install them on the agent's machine (apt-get install -y ${missing.join(' ')})`,
      error_code: 'TEMPLATE_NOT_SUPPORTED',
    };
  }
  if (!findProgram(program, path)) {
    return { error: `this agent cannot run template '${template}': '${program}' is not on the agent's PATH; install the package that provides it`, error_code: 'TEMPLATE_NOT_SUPPORTED' };
  }
  const depth = d.vnc?.color_depth;
  return {
    name: d.name ?? sessionId,
    template,
    command: d.local.command,
    packages: d.local.packages,
    geometry: d.vnc?.resolution ?? '1280x800',
    // Xvnc takes 16, 24 or 32; 8 (a palette) is not worth a desktop.
    depth: depth === 16 || depth === 32 ? depth : 24,
    persistentHome: d.persistent_home ?? false,
    environment: d.environment ?? {},
  };
}

/** Whether dpkg has the package installed (true where there is no dpkg to ask: the program check still holds). */
function packageInstalled(name: string): boolean {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Status}', name], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .includes('install ok installed');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}
