/** Every leaf of a bench's figures as [dotted.path, value], in the order the bench wrote them. */
export function flatten(value: unknown, prefix = ''): Array<[string, unknown]> {
  if (value !== null && typeof value === 'object') {
    const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
    if (entries.length === 0) return [[prefix, Array.isArray(value) ? '[]' : '{}']];
    return entries.flatMap(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k));
  }
  return [[prefix, value]];
}

// eslint-disable-next-line @typescript-eslint/no-base-to-string -- cells are the figures of a bench's JSON line: numbers, strings, booleans
const cell = (v: unknown): string => (v === null || v === undefined ? '-' : String(v).replace(/\|/g, '\\|').replace(/\n/g, ' '));

/**
 * A Markdown table, one row per figure of each bench (its "bench" name field left out, and a
 * failed bench's stderr tail, which is printed after the table, being many lines).
 */
export function summaryTable(results: Record<string, Record<string, unknown>>): string {
  const rows = ['| bench | figure | value |', '|---|---|---|'];
  for (const [bench, figures] of Object.entries(results)) {
    const { bench: _name, stderr_tail: _tail, ...rest } = figures;
    for (const [path, value] of flatten(rest)) rows.push(`| ${bench} | ${path} | ${cell(value)} |`);
  }
  return rows.join('\n');
}
