import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { defineRoute, type RouteDefinition } from '../route.ts';

/**
 * The one <style> element Redoc's bundle adds while it loads (perfect-scrollbar's CSS, with its
 * source map), before the page can hand it the nonce: admitted by its hash, first empty (the
 * element goes in before its text), then with its text. Both belong to Redoc 2.5.4: another
 * version's text has another hash, the browser test sees the refusal, and Chromium's console
 * message names the new hash.
 */
const redocLoadStyleHashes = ["'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='", "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='"];

/**
 * The page's policy. Scripts: its own files only (no inline script). Connections: its own
 * origin, for `/openapi.json`. Styles: its own stylesheet, the <style> elements Redoc's
 * styled-components add at run time, admitted by this response's nonce, and the one it adds
 * while loading, by hash; never 'unsafe-inline', so markup smuggled into a description cannot
 * style the page. Workers:
 * Redoc builds its search index in a worker made from a Blob of its own bundled code, hence
 * `blob:` there and nowhere else. Images from itself and `data:` (Redoc's icons), fonts from
 * itself (it loads none: Redoc names system fonts). No framing, no <base>, no form posts.
 */
export function docsCsp(nonce: string): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    `style-src 'self' 'nonce-${nonce}' ${redocLoadStyleHashes.join(' ')}`,
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    'worker-src blob:',
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

/**
 * `GET /docs`: a browsable reference of `/openapi.json`, rendered in the browser by Redoc,
 * whose files the API serves itself under `assetsBase` (docs-assets.ts). Public, like the
 * document. Each answer has a fresh nonce, so it is never cached.
 */
export function docsPageRoute(assetsBase: string): RouteDefinition {
  const template = readFileSync(new URL('./page/docs.html', import.meta.url), 'utf8').replaceAll('{{assets}}', assetsBase);
  return defineRoute({
    method: 'get',
    path: '/docs',
    summary: "This API's reference, browsable (an HTML page rendering /openapi.json)",
    description:
      'Open it in a browser: Redoc, served by the API itself under `/docs/assets/`, renders GET /openapi.json. ' +
      'Nothing is loaded from another origin; the page has a strict Content-Security-Policy.',
    tags: ['service'],
    auth: 'none',
    contentType: 'text/html',
    responses: { 200: z.string().describe('The reference page (HTML; strict Content-Security-Policy, no-store)') },
    examples: { responses: { 200: '<!doctype html>\n<html lang="en">\n<head><title>API reference</title>…</head>\n<body><div id="redoc"></div>…</body>\n</html>' } },
    handler: async () => {
      // 128 bits, base64: what CSP nonces need to be unguessable.
      const nonce = randomBytes(16).toString('base64');
      return {
        body: template.replace('{{nonce}}', nonce),
        headers: {
          'Content-Security-Policy': docsCsp(nonce),
          'X-Content-Type-Options': 'nosniff',
          'Referrer-Policy': 'no-referrer',
          'Cache-Control': 'no-store',
        },
      };
    },
  });
}
