import type { z } from 'zod';

/** One text frame → a message of `schema`, or why it is not one (with the `type` it claimed). */
export function parseFrame<S extends z.ZodType>(schema: S, text: string): { message: z.infer<S> } | { problem: string; type?: unknown } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { problem: 'malformed JSON' };
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return { message: parsed.data };
  const type = typeof raw === 'object' && raw !== null ? (raw as { type?: unknown }).type : undefined;
  return { problem: `unknown or invalid message (type ${JSON.stringify(type) ?? 'missing'}): ${parsed.error.issues[0]?.message ?? 'invalid'}`, type };
}
