import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NotFoundError } from '../errors.ts';
import type { RawHttpHandler } from '../raw-handler.ts';
import { sendFile, staticFile, type StaticFile } from '../static-file.ts';

export const docsAssetsPrefix = '/docs/assets';

/** The tag names this exact set of bytes, so a browser may keep each file for good. */
const immutable = 'public, max-age=31536000, immutable';

/**
 * Redoc's sidebar footer ("API docs by Redocly") always renders an <img> of a logo on Redocly's
 * CDN, with no option to leave it out: the page would reach the internet (and break its CSP) on
 * every load. The bundle is served with that src emptied; an empty src makes no request and
 * fires the img's error handler, which Redoc already uses to remove the image. If a Redoc
 * upgrade moves the string, start-up fails here rather than the page calling out.
 */
const externalLogo = 'src:"https://cdn.redoc.ly/redoc/logo-mini.svg"';

/** Redoc's standalone bundle as installed with the API (the `redoc` package), with the CDN logo taken out. */
function redocBundle(): { version: string; body: Buffer } {
  const root = fileURLToPath(new URL('.', import.meta.resolve('redoc/package.json')));
  const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { name?: string; version?: string };
  if (pkg.name !== 'redoc' || typeof pkg.version !== 'string') throw new Error(`redoc resolved to ${root}, which is not the Redoc package`);
  const text = readFileSync(`${root}bundles/redoc.standalone.js`, 'utf8');
  const parts = text.split(externalLogo);
  if (parts.length !== 2) throw new Error(`redoc ${pkg.version}: expected its CDN logo once in the standalone bundle, found it ${parts.length - 1} times`);
  return { version: pkg.version, body: Buffer.from(parts.join('src:""'), 'utf8') };
}

export interface DocsAssets {
  /** `/docs/assets/<redoc version>-<hash>`: the bundle and the page's own script and style. */
  base: string;
  /** The file names served under `base`. */
  names: string[];
  handler: RawHttpHandler;
}

/**
 * What `GET /docs` loads, served by the API itself (no CDN): Redoc's standalone bundle from
 * node_modules, and `docs.js` and `docs.css` from `page/`. All of it is read into memory at
 * start; the base path carries a hash of the bytes, so each file is cached as immutable, and a
 * path names exactly one of the three files or answers 404.
 */
export function docsAssets(): DocsAssets {
  // Once per process: every server started in it (the tests start many) serves the same bytes.
  loaded ??= loadDocsAssets();
  return loaded;
}

let loaded: DocsAssets | undefined;

function loadDocsAssets(): DocsAssets {
  const redoc = redocBundle();
  const files = new Map<string, StaticFile>([['redoc.standalone.js', staticFile(redoc.body, 'redoc.standalone.js')]]);
  for (const name of ['docs.js', 'docs.css']) files.set(name, staticFile(readFileSync(new URL(`./page/${name}`, import.meta.url)), name));
  const names = [...files.keys()].sort();
  const hash = createHash('sha256');
  for (const name of names) hash.update(`${name}\0${(files.get(name) as StaticFile).etag}\0`);
  const base = `${docsAssetsPrefix}/${redoc.version}-${hash.digest('hex').slice(0, 12)}`;
  return {
    base,
    names,
    handler: {
      name: 'core:docs-assets',
      pathPrefix: docsAssetsPrefix,
      handle: async (ctx) => {
        // The names are plain, so the raw (still encoded) rest must equal one exactly: nothing is decoded or walked.
        const file = ctx.path.startsWith(`${base}/`) ? files.get(ctx.path.slice(base.length + 1)) : undefined;
        if (!file) throw new NotFoundError('documentation file');
        sendFile(ctx, file, immutable);
      },
    },
  };
}
