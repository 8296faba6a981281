import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { defineRoute, type RouteDefinition } from '../../../src/plugin-api/index.ts';
import { v1Errors } from '../v1/api-errors.ts';

export interface ViewerPageOptions {
  /** Where the page's script, style and noVNC are served (ViewerAssets.base). */
  assetsBase: string;
  /** `viewer.frame_ancestors`: who may frame the page. */
  frameAncestors: string;
}

/**
 * The page's policy: its own scripts and styles only (no inline code), connections to its own
 * origin only (`'self'` covers ws: and wss: to the same host in CSP Level 3), images from
 * itself and `data:` (noVNC's cursors and JPEG rectangles), nothing else.
 */
export function viewerCsp(frameAncestors: string): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    `frame-ancestors ${frameAncestors}`,
  ].join('; ');
}

/**
 * `GET /vnc-viewer/{session_id}` without an Upgrade header: a static page running noVNC
 * against the WebSocket of the same path. It needs no login to load; the token stays in the
 * URL fragment (`#token=`), which browsers never send, and goes only into the socket's query.
 */
export function viewerPage({ assetsBase, frameAncestors }: ViewerPageOptions): RouteDefinition {
  const html = readFileSync(new URL('./page/viewer.html', import.meta.url), 'utf8').replaceAll('{{assets}}', assetsBase);
  const headers = {
    'Content-Security-Policy': viewerCsp(frameAncestors),
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
  };
  return defineRoute({
    method: 'get',
    path: '/vnc-viewer/:session_id',
    summary: 'The browser viewer of a session (an HTML page running noVNC)',
    description:
      'Open `/vnc-viewer/{session_id}#token=<token>` (the `viewer_url` of GET /api/v1/sessions/{id}/vnc-token, or the login token): the page reads the token from the fragment, which never reaches the server, and opens the WebSocket `/vnc-viewer/{session_id}?token=` on the same origin. ' +
      "Loading the page needs no token; the socket checks it. With an Upgrade header the same path is that WebSocket (see the streamspace tag). The page's script, style and noVNC are served under `/vnc-viewer/_assets/`.",
    tags: ['streamspace'],
    auth: 'none',
    request: { params: z.object({ session_id: z.string().describe('The session id (a UUID)') }) },
    examples: { params: { session_id: '770e8400-e29b-41d4-a716-446655440002' } },
    contentType: 'text/html',
    responses: { 200: z.string().describe('The viewer page (HTML; strict Content-Security-Policy, no-store)') },
    errors: { 404: 'SESSION_NOT_FOUND: the id is not a UUID (whether the session exists is told by the socket, to a token that may see it)' },
    handler: async ({ params }) => {
      if (!z.uuid().safeParse(params.session_id).success) throw v1Errors.sessionNotFound(params.session_id);
      return { body: html, headers };
    },
  });
}
