import type { IncomingMessage, ServerResponse } from 'node:http';
import { envelopeFor, type AppError } from '../../src/plugin-api/index.ts';

/**
 * Session cookies of the IDE entrances; never passed on to an IDE. Over https they are
 * `Secure` with the `__Host-`/`__Secure-` prefixes; over http (local development) a browser
 * drops a Secure cookie on any host but localhost, so they are plain `ide_…` cookies there.
 */
export const hostedCookie = (vmid: number, secure: boolean): string => (secure ? `__Host-ide_${vmid}` : `ide_${vmid}`);
export const pathCookie = (id: string, secure: boolean): string => (secure ? `__Secure-ide_${id}` : `ide_${id}`);
export const isPanelCookie = (name: string): boolean => name.startsWith('__Host-ide_') || name.startsWith('__Secure-ide_') || /^ide_[0-9a-f-]+$/.test(name);

/**
 * Path mode shares an origin with the panel: other sites may not frame the IDE (clickjacking),
 * but code-server frames itself (its extension host and webviews, the Markdown preview), so
 * its own origin may.
 */
export const pathModeHeaders: Readonly<Record<string, string>> = { 'Content-Security-Policy': "frame-ancestors 'self'" };

export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return undefined;
}

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A refusal as the client wants it: a page for browsers, the error envelope for JSON clients. */
export function answerError(req: IncomingMessage, res: ServerResponse, error: AppError, requestId: string, portalUrl: string, extra: Readonly<Record<string, string>> = {}): void {
  if (res.headersSent) return void res.destroy();
  const headers: Record<string, string> = { 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer', 'X-Request-Id': requestId, ...extra };
  if (/text\/html/i.test(req.headers.accept ?? '')) {
    const page =
      `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(error.title)}</title></head>` +
      `<body><h1>${escapeHtml(error.title)}</h1><p>${escapeHtml(error.message)}</p><p><a href="${escapeHtml(portalUrl)}">Open the portal</a></p></body></html>`;
    res.writeHead(error.status, { ...headers, 'Content-Type': 'text/html; charset=utf-8' }).end(page);
  } else {
    res.writeHead(error.status, { ...headers, 'Content-Type': 'application/json; charset=utf-8' }).end(JSON.stringify(envelopeFor(error, requestId)));
  }
}
