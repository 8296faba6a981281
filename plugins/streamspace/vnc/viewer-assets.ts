import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { NotFoundError, sendFile, staticFile, type RawHttpHandler, type StaticFile } from '../../../src/plugin-api/index.ts';
import { novncAssets } from './novnc-assets.ts';
import { requestedPath } from './static-files.ts';

/** Not a UUID, so `/vnc-viewer/{session_id}` (page and socket) never takes it for a session. */
export const assetsPrefix = '/vnc-viewer/_assets';

/** The page's own files, beside this one in `page/`. */
const pageFiles = ['viewer.js', 'viewer.css'] as const;

/** The tag names this exact set of bytes, so a browser may keep each file for good. */
const immutable = 'public, max-age=31536000, immutable';

export interface ViewerAssets {
  /** `/vnc-viewer/_assets/<noVNC version>-<hash>`: the page's script and style, and noVNC under `novnc/`. */
  base: string;
  /** Every path served under `base`, for the tests: `viewer.js`, `novnc/core/rfb.js`... */
  paths: string[];
  handler: RawHttpHandler;
}

/**
 * What the viewer page loads, served by the API itself (no CDN): `viewer.js` and `viewer.css`
 * from `page/`, and noVNC's `core/` and `vendor/` under `novnc/`, so `viewer.js` imports
 * `./novnc/core/rfb.js` and noVNC's own relative imports resolve beside it. All of it is read
 * into memory at start; a path names one of those files or answers 404.
 */
export function viewerAssets(): ViewerAssets {
  const novnc = novncAssets();
  const files = new Map<string, StaticFile>();
  for (const name of pageFiles) files.set(name, staticFile(readFileSync(new URL(`./page/${name}`, import.meta.url)), name));
  for (const [path, file] of novnc.files) files.set(`novnc/${path}`, file);
  const paths = [...files.keys()].sort();
  const hash = createHash('sha256');
  for (const path of paths) hash.update(`${path}\0${(files.get(path) as StaticFile).etag}\0`);
  const base = `${assetsPrefix}/${novnc.version}-${hash.digest('hex').slice(0, 12)}`;
  return {
    base,
    paths,
    handler: {
      name: 'streamspace:viewer-assets',
      pathPrefix: assetsPrefix,
      handle: async (ctx) => {
        // ctx.path is still percent-encoded: requestedPath decodes and refuses `..` however it is spelt.
        const path = ctx.path.startsWith(`${base}/`) ? requestedPath(ctx.path.slice(base.length + 1)) : null;
        const file = path === null ? undefined : files.get(path);
        if (!file) throw new NotFoundError('viewer file');
        sendFile(ctx, file, immutable);
      },
    },
  };
}
