import { z } from 'zod';
import { roleSchema, type AccountView } from '../../../src/plugin-api/index.ts';

/** A core account as the seed shows a user. */
export const v1UserSchema = z
  .object({
    id: z.uuid(),
    username: z.string(),
    email: z.string(),
    role: roleSchema,
    active: z.boolean(),
    created_at: z.iso.datetime(),
    last_login: z.iso.datetime().nullable(),
  })
  .meta({ id: 'StreamspaceUser' });

/** For the OpenAPI document. */
export const exampleV1User = {
  id: '550e8400-e29b-41d4-a716-446655440000',
  username: 'john.doe',
  email: 'john.doe@mail.test',
  role: 'user',
  active: true,
  created_at: '2025-11-01T09:00:00Z',
  last_login: '2025-11-22T10:30:00Z',
};

export function v1User(user: AccountView): z.infer<typeof v1UserSchema> {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    role: user.role,
    active: !user.disabled,
    created_at: user.createdAt.toISOString(),
    last_login: user.lastLoginAt?.toISOString() ?? null,
  };
}
