/** The `rate_limits` buckets of the seed's "Rate Limits" table (addendum: per user when signed in, else per IP). */
export const buckets = {
  api: 'streamspace_api',
  sessionCreate: 'streamspace_session_create',
  loginIp: 'streamspace_login_ip',
  login: 'streamspace_login',
  /** The core's per-account login budget, shared so /api/v1 is not a way around it. */
  loginAccount: 'auth_login_account',
  vnc: 'streamspace_vnc_upgrade',
  agentSocket: 'streamspace_agent_upgrade',
} as const;
export type Bucket = (typeof buckets)[keyof typeof buckets];
