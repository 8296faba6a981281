import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The example operators copy; the cluster and its tests run this file, filled in. */
export const deployNginxConf = fileURLToPath(new URL('../../deploy/nginx.conf', import.meta.url));

export interface PanelSiteValues {
  /** What nginx listens on, e.g. "127.0.0.1:8080". */
  listen: string;
  /** host:port of every replica. */
  replicas: readonly string[];
  /** server_name of the API: PUBLIC_URL's host (several names are allowed, e.g. "127.0.0.1 localhost"). */
  publicHost: string;
  /** DEV_IDE_SUFFIX as configured (dots are escaped here). */
  ideSuffix: string;
  accessLog: string;
}

const placeholder = /\{\{([a-z_]+)\}\}/g;

/**
 * deploy/nginx.conf with its {{placeholders}} filled in, as its header documents: the line
 * holding {{replica}} is repeated on that same line once per replica (so nginx's line numbers in
 * errors still match the file). A placeholder this does not know, or one left empty, is an error,
 * so the file and this code cannot drift apart silently.
 */
export function renderPanelSite(template: string, values: PanelSiteValues): string {
  if (values.replicas.length === 0) throw new Error('an upstream needs at least one replica');
  const scalar: Record<string, string> = {
    listen: values.listen,
    public_host: values.publicHost,
    ide_suffix: values.ideSuffix.replaceAll('.', '\\.'),
    access_log: values.accessLog,
  };
  const fill = (line: string, replica?: string): string =>
    line.replace(placeholder, (_, name: string) => {
      const value = name === 'replica' ? replica : scalar[name];
      if (value === undefined || value === '') throw new Error(`deploy/nginx.conf: no value for {{${name}}}`);
      return value;
    });
  return template
    .split('\n')
    .map((line) => {
      // The header's comments name the placeholders; they stay as they are.
      if (line.trimStart().startsWith('#')) return line;
      if (!line.includes('{{replica}}')) return fill(line);
      const indent = /^\s*/.exec(line)?.[0] ?? '';
      return indent + values.replicas.map((replica) => fill(line.trim(), replica)).join(' ');
    })
    .join('\n');
}

/** The example, read from disk and filled in. */
export function renderDeployNginxConf(values: PanelSiteValues): string {
  return renderPanelSite(readFileSync(deployNginxConf, 'utf8'), values);
}
