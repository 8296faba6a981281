/** Query parameters that carry credentials; their values never reach a log line. */
const secretParams = new Set(['token', 'ticket', 'ide_token', 'access_token', 'refresh_token', 'signature']);

/** `/x?token=abc&a=1` → `/x?token=[REDACTED]&a=1`; keeps the rest of the URL readable for debugging. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const rawName = eq < 0 ? pair : pair.slice(0, eq);
      let name = rawName;
      try {
        name = decodeURIComponent(rawName.replace(/\+/g, ' '));
      } catch {
        // a malformed escape is logged as it came
      }
      return secretParams.has(name.toLowerCase()) ? `${rawName}=[REDACTED]` : pair;
    });
  return `${url.slice(0, q)}?${params.join('&')}`;
}
