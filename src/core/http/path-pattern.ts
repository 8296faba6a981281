/**
 * Matches `/a/:id/b` style patterns segment by segment. Used where Koa's router cannot run
 * (WebSocket upgrades) and to detect clashing routes at boot. A last segment `*` matches
 * the rest of the path, empty or not, and hands it back as `*` (`/__ide/:id/*`).
 */
export function matchPath(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split('/');
  const got = path.split('/');
  if (want[want.length - 1] === '*') {
    if (got.length < want.length - 1) return null;
    const rest = got.slice(want.length - 1).join('/');
    const params = matchPath(want.slice(0, -1).join('/'), got.slice(0, want.length - 1).join('/'));
    return params ? { ...params, '*': rest } : null;
  }
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i += 1) {
    const w = want[i] as string;
    const g = got[i] as string;
    if (w.startsWith(':')) {
      if (g === '') return null;
      try {
        params[w.slice(1)] = decodeURIComponent(g);
      } catch {
        return null;
      }
    } else if (w !== g) {
      return null;
    }
  }
  return params;
}

/** True when some concrete path would match both patterns. */
export function patternsOverlap(a: string, b: string): boolean {
  const x = a.split('/');
  const y = b.split('/');
  if (x.length !== y.length) return false;
  return x.every((seg, i) => {
    const other = y[i] as string;
    return seg === other || seg.startsWith(':') || other.startsWith(':');
  });
}

/** `/api/v1` contains `/api/v1/x` but not `/api/v10`. */
export function isUnderPrefix(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`);
}
