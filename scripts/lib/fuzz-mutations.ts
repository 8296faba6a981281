import fc from 'fast-check';

/** One way to break a request, as plain data so a failing case prints (and replays) readably. */
export type Mutation =
  | { kind: 'none' }
  | { kind: 'wrong-type'; at: number; value: unknown }
  | { kind: 'drop-field'; at: number }
  | { kind: 'extra-field'; name: string; value: unknown }
  | { kind: 'string'; target: 'body' | 'query'; at: number; value: string }
  | { kind: 'nul'; target: 'body' | 'query' | 'param'; at: number }
  | { kind: 'number'; at: number; literal: string }
  | { kind: 'invalid-utf8'; at: number }
  | { kind: 'array-for-object' }
  | { kind: 'deep-json'; depth: number; shape: 'array' | 'object' }
  | { kind: 'invalid-json'; text: string }
  | { kind: 'duplicate-key' }
  | { kind: 'content-type'; value: string }
  | { kind: 'too-large' }
  | { kind: 'encoding'; value: string; bytes: 'garbage' | 'gzip' | 'plain' }
  | { kind: 'bad-param'; at: number; segment: string }
  | { kind: 'repeat-query'; at: number; value: string }
  | { kind: 'request-id'; value: string | null };

/** Strings that have broken servers: NUL, control and bidi characters, lone surrogates, huge and empty ones, injection shapes. */
export const nastyStrings: string[] = [
  '',
  ' ',
  'a\u0000b',
  '\u0000',
  '\u0001\u0002\u001b[31m\u007f',
  'line\r\nInjected: header',
  '\t\n\v\f\r',
  '\ud800',
  '\udfff\ud800',
  '\u202e\u200b\ufeff',
  '😀'.repeat(20),
  "' OR '1'='1' --",
  '"; DROP TABLE users; --',
  '${7*7}{{7*7}}%s%n',
  '../../../../etc/passwd',
  '..\\..\\windows\\win.ini',
  'NaN',
  'Infinity',
  '-Infinity',
  '-0',
  '1e309',
  '0x10',
  'null',
  'true',
  '[]',
  '{}',
  '__proto__',
  'constructor',
  'x'.repeat(100 * 1024),
];

/** Number literals written into the JSON text as they are (1e999 parses to Infinity). */
export const nastyNumbers = ['1e999', '-1e999', '1e308', '-1', '0', '-0', '1.5', '9007199254740993', '-9223372036854775809', '2147483648', '1e-400', '123456789012345678901234567890'];

/** Path segments, already as they go on the wire: bad UUIDs, traversal, broken percent-escapes. */
export const nastySegments = [
  'not-a-uuid',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffffx',
  '..%2F..%2F..%2Fetc%2Fpasswd',
  '..',
  '%2e%2e',
  '..%5C..%5Cwin.ini',
  '%00',
  'a%00b',
  '%',
  '%E0%A4%A',
  '%C0%AE%C0%AE',
  '%FF%FE',
  '-1',
  '1e309',
  'NaN',
  encodeURIComponent('😀'),
  'x'.repeat(2000),
];

export const contentTypes = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=fuzz',
  'application/xml',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'application/octet-stream',
  'application/json-patch+json',
  ';;;',
  'application/json, text/plain',
];

export const encodings = ['gzip', 'deflate', 'br', 'x-fuzz', 'gzip, x-fuzz', 'identity', 'GZIP', 'compress'];

const anyValue = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 8 }),
  fc.constant([]),
  fc.constant({}),
  fc.constant([1, 'a', null]),
  fc.constant({ nested: { deeper: [] } }),
);
const index = fc.nat({ max: 50 });

/** Every mutation a request of this shape can take; `none` keeps it valid. */
export function mutationOf(shape: { json: boolean; raw: boolean; params: number; query: number }): fc.Arbitrary<Mutation> {
  const options: Array<fc.WeightedArbitrary<Mutation>> = [
    { weight: 4, arbitrary: fc.constant({ kind: 'none' as const }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('request-id' as const), value: fc.constantFrom(null, 'bad id with spaces', 'x'.repeat(300), 'ok-id\u0007') }) },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('string' as const), target: fc.constant('query' as const), at: index, value: fc.constantFrom(...nastyStrings.map((s) => s.slice(0, 4000))) }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('repeat-query' as const), at: index, value: fc.constantFrom('1', '', 'x', 'a\u0000b') }) },
  ];
  // NUL gets a mutation of its own: it is the one character PostgreSQL's text cannot hold, so it is tried in every place often.
  const nulTargets = [...(shape.json ? ['body' as const] : []), ...(shape.query > 0 ? ['query' as const] : []), ...(shape.params > 0 ? ['param' as const] : [])];
  if (nulTargets.length > 0) options.push({ weight: 3, arbitrary: fc.record({ kind: fc.constant('nul' as const), target: fc.constantFrom(...nulTargets), at: index }) });
  if (shape.params > 0) options.push({ weight: 3, arbitrary: fc.record({ kind: fc.constant('bad-param' as const), at: index, segment: fc.constantFrom(...nastySegments) }) });
  if (shape.json || shape.raw) {
    options.push(
      {
        weight: 2,
        arbitrary: fc.record({ kind: fc.constant('encoding' as const), value: fc.constantFrom(...encodings), bytes: fc.constantFrom('garbage' as const, 'gzip' as const, 'plain' as const) }),
      },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('content-type' as const), value: fc.constantFrom(...contentTypes) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('invalid-utf8' as const), at: index }) },
    );
  }
  if (shape.json) {
    options.push(
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('string' as const), target: fc.constant('body' as const), at: index, value: fc.constantFrom(...nastyStrings) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('wrong-type' as const), at: index, value: anyValue }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop-field' as const), at: index }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('extra-field' as const), name: fc.constantFrom('extra', '__proto__', 'constructor', ''), value: anyValue }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('number' as const), at: index, literal: fc.constantFrom(...nastyNumbers) }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'array-for-object' as const }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('deep-json' as const), depth: fc.constantFrom(10_000, 1_000), shape: fc.constantFrom('array' as const, 'object' as const) }) },
      {
        weight: 1,
        arbitrary: fc.record({
          kind: fc.constant('invalid-json' as const),
          text: fc.constantFrom('{', '{"a":', 'nul', '{"a":1,}', "{'a':1}", '\u0000', '', '[1,2', '{"a":"\\x"}', '{"a":"\\ud800"}', '\ufeff{}'),
        }),
      },
      { weight: 1, arbitrary: fc.constant({ kind: 'duplicate-key' as const }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'too-large' as const }) },
    );
  }
  return fc.oneof(...options);
}
