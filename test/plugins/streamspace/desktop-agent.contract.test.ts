import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DesktopAgent } from '../../../scripts/lib/desktop-agent.ts';
import { streamspaceAgentContractSuite } from '../../contracts/streamspace-agent-contract-suite.ts';

streamspaceAgentContractSuite('desktop agent (real Xvnc)', async (url, agentId) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'panel-contract-desktops-'));
  const agent = new DesktopAgent({ url, agentId, key: 'contract-key', dataDir, autoReconnect: true });
  await agent.start();
  return {
    platform: 'local',
    startData: { local: { command: 'xterm', packages: ['xterm'] } },
    stop: async () => {
      await agent.shutdown(true);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});
