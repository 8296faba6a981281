import { z } from 'zod';

export const usernameSchema = z
  .string()
  .min(3)
  .max(32)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'use letters, digits, dot, dash and underscore, starting with a letter or digit');

export const emailSchema = z.email().max(254);

/** Long enough to be worth hashing, capped so nobody makes us hash megabytes. */
export const passwordSchema = z.string().min(8, 'use at least 8 characters').max(1024, 'use at most 1024 characters');

export const roleSchema = z.enum(['admin', 'user']);

/** The only shape in which a user leaves the API: never any password material. */
export const userSchema = z
  .object({
    id: z.uuid(),
    username: z.string(),
    email: z.string(),
    role: roleSchema,
    disabled: z.boolean(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
    last_login_at: z.iso.datetime().nullable(),
  })
  .meta({ id: 'User' });

export type User = z.infer<typeof userSchema>;
export type Role = z.infer<typeof roleSchema>;

export const userBody = z.object({ user: userSchema });
