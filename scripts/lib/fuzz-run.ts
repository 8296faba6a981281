import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { NoAnswerError, send, type FuzzRequest } from './fuzz-http.ts';
import { mutationOf, type Mutation } from './fuzz-mutations.ts';
import { judge, type Sent } from './fuzz-oracle.ts';
import { operationsOf, type Operation } from './fuzz-operations.ts';
import { buildRequest, type Draft } from './fuzz-requests.ts';
import { identityNames, unauthenticated, type IdentityName, type Stand } from './fuzz-stand.ts';
import { valueOf } from './fuzz-values.ts';

export interface FuzzOptions {
  seed: number;
  /** Mutated cases per operation, after the sweep of every identity. */
  runs: number;
  /** Only operations whose operationId is listed (all when empty). */
  operations?: string[];
  /** fast-check's path of a failing case, to replay just it (with `operations` naming its one operation). */
  path?: string;
  bodyLimitBytes: number;
  concurrency?: number;
  progress?: (line: string) => void;
}

export interface FuzzFailure {
  operation: string;
  identity: IdentityName;
  mutation: Mutation;
  request: { method: string; path: string; headers: Record<string, string>; body: string };
  status: number | null;
  problems: string[];
  /** How to run this case again. */
  replay: string;
}

export interface FuzzFigures {
  seed: number;
  runs_per_operation: number;
  /** Operations in the served document (or in --operation). */
  operations_total: number;
  operations_covered: number;
  requests_sent: number;
  failures: number;
  seconds: number;
}

interface Case {
  identity: IdentityName;
  draft: Omit<Draft, 'authorization' | 'requestId'>;
}

/** Logouts end the token they are sent with: only callers who hold no real token try them. */
const endsTheToken = (op: Operation): boolean => /\/logout$/.test(op.path);
/** Operations that would delete what the others need: they get generated ids, never the real ones. */
const destroysTheId = (op: Operation): boolean => op.method === 'DELETE';
/** Ids that belong to the owner (another user must never get a 2xx on them); templates and the admin's victim are not. */
const ownedParams = (op: Operation): string[] => (/^\/api\/(game|dev|v1\/sessions)\//.test(op.path) ? op.pathParams.map((p) => p.name) : []);

const seedOf = (seed: number, op: Operation): number => createHash('sha256').update(`${seed}:${op.id}`).digest().readInt32LE(0);

function caseOf(op: Operation, stand: Stand, identities: IdentityName[], mutations: fc.Arbitrary<Mutation>): fc.Arbitrary<Case> {
  const params = fc.record(
    Object.fromEntries(
      op.pathParams.map((p) => {
        const real = destroysTheId(op) ? undefined : stand.realId(op.path, p.name);
        const made = valueOf(p.schema).map((v) => String(v));
        return [p.name, real === undefined ? made : fc.oneof({ weight: 9, arbitrary: fc.constant(real) }, { weight: 1, arbitrary: made })];
      }),
    ),
  ) as fc.Arbitrary<Record<string, string>>;
  const query = fc.record(Object.fromEntries(op.query.map((p) => [p.name, valueOf(p.schema)])), { requiredKeys: op.query.filter((p) => p.required).map((p) => p.name) });
  const body = op.body?.kind === 'json' ? valueOf(op.body.schema) : op.body?.kind === 'raw' ? fc.string({ maxLength: 64 }) : fc.constant(undefined);
  return fc.record({ identity: fc.constantFrom(...identities), draft: fc.record({ params, query, body, mutation: mutations }) });
}

export interface FuzzResult {
  figures: FuzzFigures;
  failures: FuzzFailure[];
}

/** Sweeps every operation of the served OpenAPI document with every identity, then fuzzes each with mutated inputs. */
export async function runFuzz(stand: Stand, options: FuzzOptions): Promise<FuzzResult> {
  const started = Date.now();
  const doc = (await (await fetch(`${stand.url}/openapi.json`)).json()) as Parameters<typeof operationsOf>[0];
  const all = operationsOf(doc);
  const ops = options.operations && options.operations.length > 0 ? all.filter((op) => options.operations?.includes(op.id)) : all;
  if (ops.length === 0) throw new Error(`no operation matches ${options.operations?.join(', ')}`);
  const failures: FuzzFailure[] = [];
  const covered = new Set<string>();
  let requests = 0;

  const attempt = async (op: Operation, c: Case, replay: string): Promise<boolean> => {
    requests += 1;
    const requestId = `fuzz-${requests}-${op.id.slice(0, 40)}`;
    const draft: Draft = { ...c.draft, authorization: stand.authorization(c.identity, op.path), requestId };
    const req: FuzzRequest = buildRequest(op, draft, options.bodyLimitBytes);
    const paramsIntact = c.draft.mutation.kind !== 'bad-param';
    const owned = ownedParams(op);
    const sent: Sent = {
      mustBeUnauthorized: !op.public && unauthenticated.has(c.identity) && paramsIntact,
      mustBeForbidden: /^\/api\/(v1\/)?admin\//.test(op.path) && (c.identity === 'owner' || c.identity === 'other') && paramsIntact,
      mustBeRefused: !op.public && c.identity === 'other' && paramsIntact && owned.some((name) => c.draft.params[name] === stand.realId(op.path, name)),
      requestId: req.headers['X-Request-Id'] === draft.requestId ? draft.requestId : undefined,
    };
    covered.add(op.id);
    let status: number | null = null;
    let problems: string[];
    try {
      const answer = await send(stand.url, req);
      status = answer.status;
      problems = judge(op, sent, answer, stand.secrets);
    } catch (err) {
      if (!(err instanceof NoAnswerError)) throw err;
      problems = [err.message];
    }
    if (problems.length > 0) {
      const preview = req.body === undefined ? '' : req.body.length > 300 ? `${req.body.subarray(0, 300).toString('utf8')}… (${req.body.length} bytes)` : req.body.toString('utf8');
      failures.push({
        operation: op.id,
        identity: c.identity,
        mutation: c.draft.mutation,
        request: { method: req.method, path: req.path.slice(0, 300), headers: req.headers, body: preview },
        status,
        problems,
        replay,
      });
    }
    return problems.length === 0;
  };

  const healthy = async (after: string): Promise<void> => {
    const t0 = Date.now();
    const answer = await send(stand.url, { method: 'GET', path: '/healthz', headers: {} }, { timeoutMs: 1_000 }).catch((err: Error) => ({ status: 0, error: err.message }));
    if (answer.status !== 200)
      failures.push({
        operation: after,
        identity: 'anonymous',
        mutation: { kind: 'none' },
        request: { method: 'GET', path: '/healthz', headers: {}, body: '' },
        status: answer.status,
        problems: [`/healthz did not answer 200 within 1 s (${Date.now() - t0} ms)`],
        replay: `--seed ${options.seed} --operation ${after}`,
      });
  };

  const fuzzOne = async (op: Operation, n: number): Promise<void> => {
    const seed = seedOf(options.seed, op);
    const shape = { json: op.body?.kind === 'json', raw: op.body?.kind === 'raw', params: op.pathParams.length, query: op.query.length };
    const allowed = identityNames.filter((identity) => !endsTheToken(op) || unauthenticated.has(identity));
    if (options.path === undefined) {
      // The sweep: every identity once, with a valid request, so each is tried on every operation whatever the random draw.
      const valid = fc.sample(caseOf(op, stand, allowed, fc.constant({ kind: 'none' as const })), { seed, numRuns: allowed.length });
      for (const [i, identity] of allowed.entries()) await attempt(op, { ...(valid[i] as Case), identity }, `--seed ${options.seed} --operation ${op.id} (sweep, ${identity})`);
    }
    const replayOf = (path: string): string => `--seed ${options.seed} --operation ${op.id} --path ${path}`;
    let lastPath = '';
    const before = failures.length;
    const result = await fc.check(
      fc.asyncProperty(caseOf(op, stand, allowed, mutationOf(shape)), async (c) => attempt(op, c, replayOf(lastPath))),
      { seed, numRuns: options.runs, endOnFailure: true, ...(options.path ? { path: options.path } : {}) },
    );
    if (result.failed) {
      lastPath = result.counterexamplePath ?? '';
      const last = failures
        .slice(before)
        .filter((f) => f.operation === op.id)
        .at(-1);
      if (last) last.replay = replayOf(lastPath);
      else {
        // The fuzzer itself threw (or a check it could not make): a failure too, never a silent pass.
        const c = (result.counterexample?.[0] ?? { identity: 'anonymous', draft: { mutation: { kind: 'none' } } }) as Case;
        failures.push({
          operation: op.id,
          identity: c.identity,
          mutation: c.draft.mutation,
          request: { method: op.method, path: op.path, headers: {}, body: '' },
          status: null,
          problems: [`the case threw: ${String(result.errorInstance)}`],
          replay: replayOf(lastPath),
        });
      }
    }
    await healthy(op.id);
    options.progress?.(`[${n}/${ops.length}] ${op.method} ${op.path}: ${result.numRuns} cases; ${requests} requests so far, ${failures.length} failures`);
  };

  const queue = [...ops.entries()];
  const workers = Array.from({ length: options.concurrency ?? 4 }, async () => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) await fuzzOne(next[1], next[0] + 1);
  });
  await Promise.all(workers);
  await healthy('the whole run');
  return {
    figures: {
      seed: options.seed,
      runs_per_operation: options.runs,
      operations_total: ops.length,
      operations_covered: covered.size,
      requests_sent: requests,
      failures: failures.length,
      seconds: Math.round((Date.now() - started) / 100) / 10,
    },
    failures,
  };
}
