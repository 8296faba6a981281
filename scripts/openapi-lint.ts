import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { operationsOf, shippedOpenApiDocument } from '../test/helpers/openapi-document.ts';

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(`Usage: npm run lint:openapi [-- --out <file>]

Builds the OpenAPI document the app serves (every shipped plugin enabled, in-process, on a
fresh embedded database), writes it to a temporary file and runs \`redocly lint\` on it with
the repository's redocly.yaml (recommended-strict). Prints each problem, then one JSON line
with the figures. Exits 1 when redocly reports an error, 0 otherwise.

  --out <file>  also keep the document at <file>
  -h, --help    show this help
`);
  process.exit(0);
}

const root = fileURLToPath(new URL('../', import.meta.url));
const outIndex = process.argv.indexOf('--out');
const keep = outIndex >= 0 ? process.argv[outIndex + 1] : undefined;

interface Problem {
  ruleId: string;
  severity: 'error' | 'warn';
  message: string;
  location: Array<{ pointer?: string }>;
}

const { text, document } = await shippedOpenApiDocument();
const dir = mkdtempSync(join(tmpdir(), 'openapi-lint-'));
const file = join(dir, 'openapi.json');
writeFileSync(file, text);
if (keep) writeFileSync(keep, text);
// redocly exits non-zero when it finds errors; its JSON report is on stdout either way.
const result = await promisify(execFile)(join(root, 'node_modules', '.bin', 'redocly'), ['lint', '--config', join(root, 'redocly.yaml'), '--format=json', file], {
  cwd: root,
  maxBuffer: 64 * 1024 * 1024,
}).catch((err: { stdout?: string; stderr?: string }) => ({ stdout: err.stdout ?? '', stderr: err.stderr ?? '' }));
rmSync(dir, { recursive: true, force: true });
let problems: Problem[];
try {
  problems = (JSON.parse(result.stdout) as { problems: Problem[] }).problems;
} catch {
  process.stderr.write(`redocly did not report JSON:\n${result.stdout}\n${result.stderr}\n`);
  process.exit(2);
}
for (const p of problems) process.stdout.write(`${p.severity} ${p.ruleId} ${p.location[0]?.pointer ?? ''}: ${p.message}\n`);
const errors = problems.filter((p) => p.severity === 'error').length;
const warnings = problems.length - errors;
process.stdout.write(`${JSON.stringify({ errors, warnings, operations: operationsOf(document).length, bytes: Buffer.byteLength(text), schemas: Object.keys(document.components.schemas).length })}\n`);
process.exit(errors > 0 ? 1 : 0);
