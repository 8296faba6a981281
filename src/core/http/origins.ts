/** PUBLIC_URL's origin is always allowed; ALLOWED_ORIGINS adds more (API.md). */
export function allowedOriginSet(publicUrl: string, extra: readonly string[]): ReadonlySet<string> {
  return new Set([new URL(publicUrl).origin, ...extra.map((o) => new URL(o).origin)]);
}
