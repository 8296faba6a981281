import { z } from 'zod';

/** `page` from 1; `limit` above 100 is clamped to 100 (addendum); the default differs per list. */
export function pageQuery(defaultLimit: number) {
  return z.object({
    page: z.coerce.number().int().min(1).default(1).describe('Page number, from 1'),
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .default(defaultLimit)
      .transform((n) => Math.min(n, 100))
      .describe(`Results per page (default ${defaultLimit}, max 100; larger values are clamped)`),
  });
}
