/** The protocol's and the seed's durations (`heartbeat_interval`, `idle_timeout`, a stop's `timeout`). */

/** `10s`, `30m`, `2h`, `1d` → seconds; null when it is not such a duration. */
export function durationSeconds(text: string): number | null {
  const match = /^(\d{1,6})(s|m|h|d)$/.exec(text);
  if (!match) return null;
  const unit = { s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}
