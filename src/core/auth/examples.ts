/** Example bodies for the OpenAPI document (the auth and admin user routes). */
export const exampleUser = {
  id: '6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21',
  username: 'alice',
  email: 'alice@mail.test',
  role: 'user',
  disabled: false,
  created_at: '2026-11-20T08:00:00.000Z',
  updated_at: '2026-11-22T17:30:00.000Z',
  last_login_at: '2026-11-23T09:00:00.000Z',
} as const;

export const exampleTokens = {
  access_token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI2YTFkMmE4ZSJ9.c2lnbmF0dXJl',
  token_type: 'Bearer',
  expires_in: 900,
  refresh_token: 'rt_9c4f0e2b7a1d4e6f8b3c5a7d9e1f2a4b',
  refresh_expires_at: '2026-12-23T09:00:00.000Z',
  user: exampleUser,
} as const;

export const exampleUserId = exampleUser.id;
