/** Example bodies for the OpenAPI document. */
export const exampleContainer = {
  id: '5d0c8a3e-1f2b-4c6d-8e9f-0a1b2c3d4e5f',
  name: 'api-work',
  vmid: 104,
  template: 'default',
  owner_id: '6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21',
  resources: { cpu_cores: 2, memory_mb: 4096, disk_mb: 20480 },
  codeserver: { state: 'running' },
  lifecycle_reason: null,
  created_at: '2026-11-23T09:00:00.000Z',
  updated_at: '2026-11-23T09:00:41.000Z',
  state: {
    lifecycle: 'active',
    reachable: true,
    ready: true,
    status: 'running',
    last_seen_at: '2026-11-23T09:15:02.000Z',
    checked_at: '2026-11-23T09:15:02.000Z',
    stale: false,
    error: null,
    details: { state: 'running', since: '2026-11-23T09:00:40Z', codeserver: { state: 'running', port: 8443 }, backup: { in_progress: null } },
  },
};

export const agentErrors = {
  502: 'The agent answered 5xx or something outside the contract (AGENT_BAD_RESPONSE)',
  504: 'The agent cannot be reached (AGENT_UNREACHABLE) or did not answer in time (AGENT_TIMEOUT)',
};
