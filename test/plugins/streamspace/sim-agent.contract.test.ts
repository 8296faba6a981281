import { SimAgent } from '../../../scripts/lib/streamspace-sim-agent.ts';
import { streamspaceAgentContractSuite } from '../../contracts/streamspace-agent-contract-suite.ts';

streamspaceAgentContractSuite('simulated agent', async (url, agentId) => {
  const agent = new SimAgent({ url, agentId, key: 'contract-key', platform: 'docker', commandDelayMs: 10, autoReconnect: true });
  await agent.start();
  return { platform: 'docker', startData: {}, stop: () => agent.stop() };
});
