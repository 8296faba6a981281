import type { Knex } from 'knex';
import { z } from 'zod';

/** `?page=1&limit=20`; a limit above 100 is clamped to 100, not refused (API.md). */
export const paginationQuery = z.object({
  page: z.coerce.number().int().min(1).default(1).describe('Page number, from 1'),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .default(20)
    .transform((n) => Math.min(n, 100))
    .describe('Items per page; values above 100 are clamped to 100'),
});

export const paginationSchema = z
  .object({
    page: z.number().int(),
    limit: z.number().int(),
    total: z.number().int(),
    total_pages: z.number().int(),
  })
  .meta({ id: 'Pagination' });

export function paginationOf(page: number, limit: number, total: number): z.infer<typeof paginationSchema> {
  return { page, limit, total, total_pages: Math.ceil(total / limit) };
}

/**
 * One page of a filtered query and the total it pages through, read side by side.
 * `rowsOf` orders and selects the page's rows (an order is what makes pages stable);
 * the count sees only `filtered`.
 */
export async function fetchPage<Row>(filtered: Knex.QueryBuilder, page: number, limit: number, rowsOf: (q: Knex.QueryBuilder) => Knex.QueryBuilder): Promise<{ rows: Row[]; total: number }> {
  // The rows come back untyped (any); `unknown` until they are cast to the row type below.
  const [rows, count] = (await Promise.all([
    rowsOf(filtered.clone())
      .limit(limit)
      .offset((page - 1) * limit),
    filtered.clone().count<Array<{ n: string | number }>>('* as n'),
  ])) as [unknown, Array<{ n: string | number }>];
  return { rows: rows as Row[], total: Number(count[0]?.n ?? 0) };
}
