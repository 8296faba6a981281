/** Example bodies for the OpenAPI document. */
export const exampleState = {
  lifecycle: 'active',
  reachable: true,
  ready: true,
  status: 'running',
  last_seen_at: '2026-11-23T10:15:02.000Z',
  checked_at: '2026-11-23T10:15:02.000Z',
  stale: false,
  error: null,
  details: { state: 'running', since: '2026-11-23T10:01:40Z', pid: 4242, uptime_s: 802, backup: { in_progress: null } },
};

export const exampleServer = {
  id: '0b9f3c1e-5d7a-4d6e-9f52-2a3f7c1b8e40',
  name: 'Friday survival',
  template: 'sample',
  owner_id: '6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21',
  resources: { cpu_cores: 1, memory_mb: 1024, disk_mb: 5120 },
  backup_limit: 5,
  lifecycle_reason: null,
  created_at: '2026-11-23T10:00:00.000Z',
  updated_at: '2026-11-23T10:01:41.000Z',
  state: exampleState,
};

export const exampleBackup = {
  id: 'c3e1a9b2-7f44-4e0b-a1d3-99f0e2b4c6d8',
  name: 'before-update',
  state: 'completed',
  size_bytes: 73_400_320,
  sha256: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
  locked: false,
  created_at: '2026-11-23T10:20:00.000Z',
  completed_at: '2026-11-23T10:20:41.000Z',
};

export const agentErrors = {
  502: 'The agent answered 5xx or something outside the contract (AGENT_BAD_RESPONSE); details.agent_body holds what it said',
  504: 'The agent cannot be reached (AGENT_UNREACHABLE) or did not answer in time (AGENT_TIMEOUT); the server may be stopped or restarting',
};
