/**
 * A strict JSON reader that reports keys an object has more than once (JSON.parse keeps the
 * last silently, which is how a duplicated pino key hides): returns their paths, like
 * `$.component` or `$.err.code`. Throws on anything that is not JSON.
 */
export function duplicateKeys(text: string): string[] {
  let at = 0;
  const found: string[] = [];
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at ${at} in ${text.slice(0, 200)}`);
  };
  const space = (): void => {
    while (at < text.length && ' \t\n\r'.includes(text[at] as string)) at += 1;
  };
  const string = (): string => {
    // eslint-disable-next-line no-control-regex -- JSON forbids raw control characters in strings: matching them is the point
    const match = /^"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/.exec(text.slice(at));
    if (!match) return fail('bad string');
    at += match[0].length;
    return JSON.parse(match[0]) as string;
  };
  const value = (path: string): void => {
    space();
    const c = text[at];
    if (c === '{') {
      at += 1;
      const keys = new Set<string>();
      space();
      if (text[at] === '}') return void (at += 1);
      for (;;) {
        space();
        const key = string();
        if (keys.has(key)) found.push(`${path}.${key}`);
        keys.add(key);
        space();
        if (text[at] !== ':') fail('expected ":"');
        at += 1;
        value(`${path}.${key}`);
        space();
        if (text[at] === ',') at += 1;
        else if (text[at] === '}') return void (at += 1);
        else fail('expected "," or "}"');
      }
    }
    if (c === '[') {
      at += 1;
      space();
      if (text[at] === ']') return void (at += 1);
      for (let i = 0; ; i += 1) {
        value(`${path}[${i}]`);
        space();
        if (text[at] === ',') at += 1;
        else if (text[at] === ']') return void (at += 1);
        else fail('expected "," or "]"');
      }
    }
    if (c === '"') return void string();
    const literal = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(at));
    if (!literal) fail('unexpected character');
    at += (literal as RegExpExecArray)[0].length;
  };
  value('$');
  space();
  if (at !== text.length) fail('trailing text');
  return found;
}
