import type { RouteIssue } from './route.ts';

const message = 'must not contain the NUL character (\\u0000)';
/** Deeper than any schema goes: what lies below is refused by the schema anyway. */
const maxDepth = 32;

/**
 * Issues for every string (and object key) holding U+0000, wherever it is in params, query or
 * body. PostgreSQL's text cannot store NUL and the driver answers it with an error, so no
 * route's schema has to remember: it is refused here, before any handler or query sees it.
 */
export function nulIssues(location: RouteIssue['location'], value: unknown, path: Array<string | number> = [], found: RouteIssue[] = []): RouteIssue[] {
  if (found.length >= 20 || path.length > maxDepth) return found;
  if (typeof value === 'string') {
    if (value.includes('\u0000')) found.push({ location, path, code: 'invalid_string', message, missing: false });
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => nulIssues(location, item, [...path, i], found));
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      if (key.includes('\u0000')) found.push({ location, path: [...path, key], code: 'invalid_key', message, missing: false });
      else nulIssues(location, item, [...path, key], found);
    }
  }
  return found;
}
